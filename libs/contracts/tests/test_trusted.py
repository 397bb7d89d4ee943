"""``built_whole``: the import-time guard beside every ``trusted`` builder."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from robson_contracts import CheckResult
from robson_contracts.trusted import PlainAssignment, built_whole, trusted


class Plain(BaseModel):
    a: int
    b: str = ""


def test_built_whole_accepts_a_model_with_those_fields_in_that_order() -> None:
    assert built_whole(Plain, ("a", "b")) is Plain
    built = trusted(Plain, {"a": 1, "b": "x"}, {"a", "b"})
    assert built == Plain(a=1, b="x") and built.model_fields_set == {"a", "b"}


@pytest.mark.parametrize("order", [("b", "a"), ("a",), ("a", "b", "c")])
def test_built_whole_refuses_another_field_order(order: tuple[str, ...]) -> None:
    with pytest.raises(TypeError, match="Plain can no longer be built field by field"):
        built_whole(Plain, order)


class Aliased(BaseModel):
    a: int = Field(alias="A")


class Private(BaseModel):
    a: int
    _seen: int = PrivateAttr(default=0)


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


class PostInit(BaseModel):
    a: int

    def model_post_init(self, context: object) -> None:
        pass


@pytest.mark.parametrize("model", [Aliased, Private, Open, PostInit])
def test_built_whole_refuses_what_trusted_cannot_build(model: type[BaseModel]) -> None:
    with pytest.raises(TypeError, match="can no longer be built field by field"):
        built_whole(model, ("a",))


def test_check_result_is_still_built_whole() -> None:
    """entry_gate's ``passed`` builds it so (``rules/base.py``)."""
    built_whole(CheckResult, ("rule", "passed", "reason_code", "message", "details", "warning"))


class Held(PlainAssignment):
    a: int = 0
    b: str = ""
    _seen: int = PrivateAttr(default=0)


class Pydantics(BaseModel):
    a: int = 0
    b: str = ""
    _seen: int = PrivateAttr(default=0)


def test_plain_assignment_sets_a_field_as_pydantic_does() -> None:
    ours, theirs = Held(), Pydantics()
    for model in (ours, theirs):
        model.a = 5
        model.b = "x"
        model._seen = 3
    assert ours.__dict__ == theirs.__dict__ and list(ours.__dict__) == list(theirs.__dict__)
    assert ours.model_fields_set == theirs.model_fields_set == {"a", "b"}
    assert ours._seen == theirs._seen == 3 and "_seen" not in ours.__dict__
    assert ours.model_dump(exclude_unset=True) == theirs.model_dump(exclude_unset=True)


def test_plain_assignment_leaves_what_is_not_a_field_to_pydantic() -> None:
    with pytest.raises(ValueError, match="has no field"):
        Held().c = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("config", [ConfigDict(frozen=True), ConfigDict(validate_assignment=True)])
def test_plain_assignment_refuses_a_model_that_freezes_or_validates(config: ConfigDict) -> None:
    with pytest.raises(TypeError, match="PlainAssignment would bypass that"):
        type("Refused", (PlainAssignment,), {"__annotations__": {"a": int}, "model_config": config})


def test_plain_assignment_refuses_a_frozen_field() -> None:
    with pytest.raises(TypeError, match="PlainAssignment would bypass that"):
        class Refused(PlainAssignment):
            a: int = Field(0, frozen=True)
