"""Runs every bound strategy on each closed bar and turns hints into SignalDetected events."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from uuid import UUID

from robson_contracts import SignalDetected, Timeframe, derive_id

from robson_signal.domain.bars import Bar
from robson_signal.domain.bindings import TraderBinding
from robson_signal.domain.registry import StrategyRegistry
from robson_signal.domain.strategy import Hint, Strategy

STRENGTH_QUANTUM = Decimal("0.0001")
Key = tuple[str, Timeframe]


def signal_id_for(trader_id: str, strategy: str, bar: Bar) -> str:
    return str(
        derive_id("signal", trader_id, strategy, bar.symbol, bar.timeframe, bar.open_ms)
    )


def candle_message_id(symbol: str, timeframe: Timeframe, open_ms: int) -> UUID:
    # The Timeframe itself: a StrEnum is its text to ``derive_id`` (``str``), without the
    # ``.value`` lookup (every candle of a replay or backtest derives one of these).
    return derive_id("candle", symbol, timeframe, open_ms)


def to_decimal(x: float) -> Decimal:
    """Floats become decimals through a fixed format, so a replay is byte-identical."""
    return Decimal(format(x, ".12g"))


class StrategyEngine:
    """Holds bindings and one strategy instance per (trader, symbol, timeframe)."""

    def __init__(self, registry: StrategyRegistry) -> None:
        self.registry = registry
        self.bindings: dict[str, TraderBinding] = {}
        self._routes: dict[Key, list[tuple[TraderBinding, Strategy]]] = defaultdict(list)

    def bind(self, binding: TraderBinding) -> None:
        """Add or replace a trader's binding; a changed binding starts from fresh state."""
        self.registry.params(binding.strategy, binding.params)  # validates before any change
        if self.bindings.get(binding.trader_id) == binding:
            return
        self.unbind(binding.trader_id)
        self.bindings[binding.trader_id] = binding
        if not binding.enabled:
            return
        for symbol in binding.symbols:
            for tf in binding.timeframes:
                strategy = self.registry.create(binding.strategy, binding.params)
                self._routes[(symbol, tf)].append((binding, strategy))

    def unbind(self, trader_id: str) -> None:
        self.bindings.pop(trader_id, None)
        for key in list(self._routes):
            kept = [r for r in self._routes[key] if r[0].trader_id != trader_id]
            if kept:
                self._routes[key] = kept
            else:
                del self._routes[key]

    def series(self) -> set[Key]:
        return set(self._routes)

    def evaluate(self, bar: Bar) -> list[tuple[TraderBinding, Hint]]:
        """Feed the bar to every strategy bound to its series; return the hints produced."""
        out = []
        for binding, strategy in self._routes.get((bar.symbol, bar.timeframe), ()):
            hint = strategy.on_bar(bar)
            if hint is not None:
                out.append((binding, hint))
        return out

    def on_bar(self, bar: Bar) -> list[SignalDetected]:
        hints = self.evaluate(bar)
        if not hints:  # most bars: no comprehension to run
            return []
        return [to_signal(binding, hint, bar) for binding, hint in hints]


def to_signal(binding: TraderBinding, hint: Hint, bar: Bar) -> SignalDetected:
    candle_id = candle_message_id(bar.symbol, bar.timeframe, bar.open_ms)
    signal_id = signal_id_for(binding.trader_id, binding.strategy, bar)
    return SignalDetected(
        message_id=derive_id("signal-message", signal_id),
        correlation_id=candle_id,
        causation_id=candle_id,
        occurred_at=bar.close_time,
        account_id=binding.account_id,
        signal_id=signal_id,
        strategy=binding.strategy,
        trader_id=binding.trader_id,
        symbol=bar.symbol,
        timeframe=bar.timeframe,
        direction=hint.direction,
        strength=to_decimal(hint.strength).quantize(STRENGTH_QUANTUM),
        price=bar.close,
        candle_time=bar.open_time,
        features={k: to_decimal(v) for k, v in sorted(hint.features.items())},
    )
