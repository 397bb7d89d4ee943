"""The strategy plugin interface.

A strategy is a class with a ``name``, a pydantic ``Params`` model (its typed config) and
``on_bar(bar) -> Hint | None``. One instance exists per (trader, symbol, timeframe), receives
that series' closed bars in event-time order and keeps its own indicator state. It must be
pure: no I/O, no wall clock, no randomness — so a replay gives identical signals.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel, ConfigDict
from robson_contracts import SignalDirection

from robson_signal.domain.bars import Bar


class StrategyParams(BaseModel):
    """Base of every strategy's typed config: unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class Hint:
    """What a strategy saw: a direction, a strength in [0, 1] and the features it used."""

    direction: SignalDirection
    strength: float
    features: dict[str, float] = field(default_factory=dict)


class Strategy(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, params: StrategyParams) -> None:
        self.params = params

    @abstractmethod
    def on_bar(self, bar: Bar) -> Hint | None:
        """Called once per closed bar of this instance's series."""


def clamp_strength(value: float) -> float:
    return 0.0 if value != value else min(1.0, max(0.0, value))  # NaN → 0
