"""Hypothesis strategies for any contract model, built from its field annotations."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, get_args, get_origin
from uuid import UUID

from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from robson_contracts import types as ct

_DEC_BOUNDS = {
    ct._positive: dict(min_value=Decimal("0.00000001")),
    ct._non_negative: dict(min_value=Decimal(0)),
    ct._unit_interval: dict(min_value=Decimal(0), max_value=Decimal(1)),
}


def _decimal(metadata: list[Any]) -> st.SearchStrategy[Decimal]:
    bounds: dict[str, Decimal] = {"min_value": Decimal(-(10**9)), "max_value": Decimal(10**9)}
    for m in metadata:
        func = getattr(m, "func", None)
        if func in _DEC_BOUNDS:
            bounds.update(_DEC_BOUNDS[func])
    return st.decimals(allow_nan=False, allow_infinity=False, places=8, **bounds)


def _for(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = get_args(annotation)
        return _for(inner, [*metadata, *extra])
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_for(a, metadata) for a in get_args(annotation)))
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin is tuple:
        return st.lists(_for(get_args(annotation)[0], []), max_size=3).map(tuple)
    if origin is dict:
        return st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                               _for(get_args(annotation)[1], []), max_size=3)
    if annotation is type(None):
        return st.none()
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return model_strategy(annotation)
        if issubclass(annotation, Enum):
            return st.sampled_from(list(annotation))
        if annotation is Decimal:
            return _decimal(metadata)
        if annotation is datetime:
            return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                                timezones=st.just(UTC))
        if annotation is UUID:
            return st.uuids()
        if annotation is bool:
            return st.booleans()
        if annotation is int:
            return st.integers(0, 10**6)
        if annotation is str:
            pattern = next((getattr(m, "pattern", None) for m in metadata if getattr(m, "pattern", None)), None)
            if pattern:
                return st.from_regex(pattern, fullmatch=True)
            return st.text(max_size=20)
    raise TypeError(f"no strategy for {annotation!r}")


def model_strategy(cls: type[BaseModel]) -> st.SearchStrategy[Any]:
    fields = {}
    for name, info in cls.model_fields.items():
        if name == "schema_version":
            continue
        fields[name] = _for(info.annotation, list(info.metadata))
    return st.fixed_dictionaries(fields).map(lambda d: _build(cls, d)).filter(lambda m: m is not None)


def _build(cls: type[BaseModel], values: dict[str, Any]) -> BaseModel | None:
    try:
        return cls.model_validate(values)
    except ValidationError:
        return None
