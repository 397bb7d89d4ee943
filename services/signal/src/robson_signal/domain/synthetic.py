"""A seeded synthetic market: trend/range regimes, GARCH-like volatility clustering, jumps
and opening gaps. The same seed, symbol and timeframe always give the same bars."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from robson_contracts import Timeframe

from robson_signal.domain.bars import Bar

PRICE_QUANTUM = Decimal("0.01")
VOLUME_QUANTUM = Decimal("0.001")
REGIMES = ("trend_up", "trend_down", "range")


@dataclass(frozen=True)
class MarketModel:
    start_price: float = 100.0
    base_vol: float = 0.004
    """Per-bar return volatility the GARCH process reverts to."""
    garch_alpha: float = 0.08
    garch_beta: float = 0.9
    trend_drift: float = 0.0006
    regime_mean_bars: int = 120
    jump_probability: float = 0.004
    gap_probability: float = 0.01


class SyntheticMarket:
    def __init__(
        self,
        seed: int,
        symbol: str,
        timeframe: Timeframe,
        start_ms: int,
        model: MarketModel | None = None,
    ) -> None:
        self.model = model or MarketModel()
        self.symbol, self.timeframe = symbol, timeframe
        self.rng = random.Random(f"{seed}:{symbol}:{timeframe.value}")
        self.next_ms = start_ms
        self.price = self.model.start_price * (0.5 + self.rng.random() * 2)
        self.var = self.model.base_vol**2
        self.regime = self.rng.choice(REGIMES)
        self.last_return = 0.0

    def _step_regime(self) -> None:
        if self.rng.random() < 1.0 / self.model.regime_mean_bars:
            self.regime = self.rng.choice([r for r in REGIMES if r != self.regime])

    def _drift(self, anchor: float) -> float:
        m = self.model
        if self.regime == "trend_up":
            return m.trend_drift
        if self.regime == "trend_down":
            return -m.trend_drift
        return -0.05 * math.log(self.price / anchor)  # range: pull towards the anchor

    def bars(self, count: int | None = None) -> Iterator[Bar]:
        anchor, produced = self.price, 0
        while count is None or produced < count:
            yield self.next_bar(anchor)
            produced += 1
            if self.regime != "range":
                anchor = self.price

    def next_bar(self, anchor: float) -> Bar:
        m, rng = self.model, self.rng
        self._step_regime()
        omega = m.base_vol**2 * (1 - m.garch_alpha - m.garch_beta)
        self.var = omega + m.garch_alpha * self.last_return**2 + m.garch_beta * self.var
        sigma = math.sqrt(self.var)
        open_ = self.price
        if rng.random() < m.gap_probability:
            open_ *= math.exp(rng.gauss(0, 3 * sigma))
        ret = self._drift(anchor) + rng.gauss(0, sigma)
        if rng.random() < m.jump_probability:
            ret += rng.choice((-1, 1)) * rng.uniform(4, 8) * sigma
        close = open_ * math.exp(ret)
        high = max(open_, close) * math.exp(abs(rng.gauss(0, sigma * 0.6)))
        low = min(open_, close) * math.exp(-abs(rng.gauss(0, sigma * 0.6)))
        self.last_return, self.price = math.log(close / self.price), close
        bar = Bar(
            self.symbol,
            self.timeframe,
            self.next_ms,
            _price(open_),
            _price(high),
            _price(low),
            _price(close),
            _volume(rng.lognormvariate(3, 0.8) * (1 + 50 * abs(ret))),
        )
        self.next_ms += self.timeframe.seconds * 1000
        return bar


def _price(x: float) -> Decimal:
    return max(Decimal(repr(x)).quantize(PRICE_QUANTUM), PRICE_QUANTUM)


def _volume(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(VOLUME_QUANTUM)
