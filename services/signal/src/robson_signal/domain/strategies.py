"""Built-in strategies: EMA cross, Donchian breakout, RSI mean reversion."""

from __future__ import annotations

from pydantic import Field, model_validator
from robson_contracts import SignalDirection

from robson_signal.domain.bars import Bar
from robson_signal.domain.indicators import ATR, EMA, RSI, Donchian
from robson_signal.domain.strategy import Hint, Strategy, StrategyParams, clamp_strength

LONG, SHORT = SignalDirection.LONG, SignalDirection.SHORT


class EmaCrossParams(StrategyParams):
    fast: int = Field(9, ge=2, le=500)
    slow: int = Field(21, ge=3, le=1000)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> EmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be smaller than slow")
        return self


class EmaCross(Strategy):
    """LONG when the fast EMA crosses above the slow one, SHORT when it crosses below."""

    name = "ema_cross"
    description = "Fast/slow EMA crossover; strength grows with the spread relative to ATR."
    Params = EmaCrossParams

    def __init__(self, params: EmaCrossParams) -> None:
        super().__init__(params)
        self.fast, self.slow, self.atr = EMA(params.fast), EMA(params.slow), ATR(14)
        self._prev_diff: float | None = None

    def on_bar(self, bar: Bar) -> Hint | None:
        fast, slow = self.fast.update(bar.fclose), self.slow.update(bar.fclose)
        atr = self.atr.update(bar.fhigh, bar.flow, bar.fclose)
        if fast is None or slow is None:
            return None
        diff, prev = fast - slow, self._prev_diff
        self._prev_diff = diff
        if prev is None or (prev <= 0) == (diff <= 0):
            return None
        scale = atr if atr else abs(bar.fclose) * 0.01
        return Hint(
            LONG if diff > 0 else SHORT,
            clamp_strength(0.5 + abs(diff) / scale),
            {"ema_fast": fast, "ema_slow": slow, "atr": atr or 0.0},
        )


class DonchianParams(StrategyParams):
    period: int = Field(20, ge=2, le=1000)


class DonchianBreakout(Strategy):
    """LONG on a close above the previous channel's high, SHORT below its low."""

    name = "donchian_breakout"
    description = "Close breaks the prior N-bar high (LONG) or low (SHORT)."
    Params = DonchianParams

    def __init__(self, params: DonchianParams) -> None:
        super().__init__(params)
        self.channel = Donchian(params.period)

    def on_bar(self, bar: Bar) -> Hint | None:
        self.channel.update(bar.fhigh, bar.flow)
        prior = self.channel.previous
        if prior is None:
            return None
        width = prior.upper - prior.lower or abs(bar.fclose) * 0.01
        features = {"upper": prior.upper, "lower": prior.lower, "close": bar.fclose}
        if bar.fclose > prior.upper:
            return Hint(LONG, clamp_strength(0.5 + (bar.fclose - prior.upper) / width), features)
        if bar.fclose < prior.lower:
            return Hint(SHORT, clamp_strength(0.5 + (prior.lower - bar.fclose) / width), features)
        return None


class RsiParams(StrategyParams):
    period: int = Field(14, ge=2, le=500)
    oversold: float = Field(30.0, gt=0, lt=100)
    overbought: float = Field(70.0, gt=0, lt=100)

    @model_validator(mode="after")
    def _ordered(self) -> RsiParams:
        if self.oversold >= self.overbought:
            raise ValueError("oversold must be below overbought")
        return self


class RsiMeanReversion(Strategy):
    """LONG when RSI climbs back above oversold, SHORT when it falls back below overbought."""

    name = "rsi_mean_reversion"
    description = "RSI leaves the oversold (LONG) or overbought (SHORT) zone."
    Params = RsiParams

    def __init__(self, params: RsiParams) -> None:
        super().__init__(params)
        self.rsi = RSI(params.period)
        self._prev: float | None = None

    def on_bar(self, bar: Bar) -> Hint | None:
        rsi, prev = self.rsi.update(bar.fclose), self._prev
        self._prev = rsi
        if rsi is None or prev is None:
            return None
        p = self.params
        if prev < p.oversold <= rsi:
            return Hint(
                LONG,
                clamp_strength((p.oversold - min(prev, p.oversold)) / p.oversold + 0.5),
                {"rsi": rsi, "rsi_prev": prev},
            )
        if prev > p.overbought >= rsi:
            excess = (max(prev, p.overbought) - p.overbought) / (100 - p.overbought)
            return Hint(SHORT, clamp_strength(excess + 0.5), {"rsi": rsi, "rsi_prev": prev})
        return None


BUILTIN: tuple[type[Strategy], ...] = (EmaCross, DonchianBreakout, RsiMeanReversion)
