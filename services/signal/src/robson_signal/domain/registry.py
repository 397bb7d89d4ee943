"""Strategy lookup by name, including user classes loaded from ``module:Class`` paths."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from robson_signal.domain.strategies import BUILTIN
from robson_signal.domain.strategy import Strategy, StrategyParams


class UnknownStrategyError(ValueError):
    pass


class StrategyRegistry:
    def __init__(self, classes: tuple[type[Strategy], ...] = BUILTIN) -> None:
        self._classes: dict[str, type[Strategy]] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: type[Strategy]) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise TypeError(f"{cls!r} is not a Strategy subclass")
        if not getattr(cls, "name", None):
            raise TypeError(f"{cls.__name__} must define a non-empty class attribute 'name'")
        self._classes[cls.name] = cls

    def load(self, path: str) -> type[Strategy]:
        """Import and register ``package.module:ClassName``."""
        module_name, _, attr = path.partition(":")
        if not module_name or not attr:
            raise ValueError(f"strategy plugin {path!r} must look like 'package.module:ClassName'")
        cls = getattr(importlib.import_module(module_name), attr)
        self.register(cls)
        return cls

    def get(self, name: str) -> type[Strategy]:
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(sorted(self._classes))
            raise UnknownStrategyError(f"unknown strategy {name!r}; known: {known}") from None

    def params(self, name: str, raw: dict[str, Any]) -> StrategyParams:
        """Validate a strategy's config; raises ValueError with field-level messages."""
        cls = self.get(name)
        try:
            return cls.Params.model_validate(raw)
        except ValidationError as exc:
            parts = [
                f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors()
            ]
            raise ValueError(f"invalid params for {name}: " + "; ".join(parts)) from None

    def create(self, name: str, raw: dict[str, Any]) -> Strategy:
        return self.get(name)(self.params(name, raw))

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": n,
                "description": c.description or (c.__doc__ or "").strip(),
                "params_schema": c.Params.model_json_schema(),
                "defaults": _defaults(c),
            }
            for n, c in sorted(self._classes.items())
        ]


def _defaults(cls: type[Strategy]) -> dict[str, Any] | None:
    try:
        return cls.Params().model_dump()
    except ValidationError:
        return None  # some params are required
