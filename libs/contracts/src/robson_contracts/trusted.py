"""A pydantic model built from values already held to its rules, without validation.

What ``model.model_construct(fields_set, **values)`` builds when ``values`` holds every field of
the model, in its order, and the model has no private attributes, extras or post-init hook —
without ``model_construct``'s loop over the fields. For the few hot paths that build or copy
many models whose values come from a checked source: a backtest's candles and path ticks
(``robson_signal.domain.events``), position's in-memory table copies
(``robson_position.adapters.memory``), entry_gate's passed checks and price snapshots."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_new = object.__new__
_set = object.__setattr__


def trusted(model: type[M], values: dict[str, object], fields_set: set[str]) -> M:
    """``model`` with ``values`` as its ``__dict__`` (taken, not copied) and ``fields_set`` as
    its set fields; no extra, no private state."""
    m = _new(model)
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", fields_set)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def built_whole(model: type[M], order: tuple[str, ...]) -> type[M]:
    """``model``, checked to be one ``trusted`` builds as ``model_construct`` would: its fields
    are ``order`` (the order its builders write them in), with no aliases, and it has no
    private attributes, post-init hook or extra fields. Call it at import beside a builder: a
    contracts change that breaks this fails there, not in a run's numbers."""
    if (tuple(model.__pydantic_fields__) != order or model.__private_attributes__
            or model.__pydantic_post_init__ or model.__pydantic_root_model__
            or model.model_config.get("extra") == "allow"
            or any(f.alias or f.validation_alias for f in model.__pydantic_fields__.values())):
        raise TypeError(f"{model.__name__} can no longer be built field by field here: "
                        "use model_construct")
    return model


class PlainAssignment(BaseModel):
    """A mutable model (a service's state, not a message) whose fields are assigned as pydantic
    assigns them when it validates no assignment — the value into ``__dict__``, the name into
    the set fields — in one call instead of pydantic's two (a handler looked up, then called).
    A position's or an account's state takes several assignments per message. Anything that is
    not a field (a private attribute, a property) goes through pydantic as before; a model
    that validates assignments or freezes anything cannot use it (refused when it is
    defined)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self).__pydantic_fields__:
            self.__dict__[name] = value
            self.__pydantic_fields_set__.add(name)
        else:
            super().__setattr__(name, value)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        config = cls.model_config
        if (config.get("frozen") or config.get("validate_assignment")
                or any(f.frozen for f in cls.__pydantic_fields__.values())):
            raise TypeError(f"{cls.__name__} freezes or validates assignments: "
                            "PlainAssignment would bypass that")
