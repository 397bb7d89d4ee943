"""Which bars must go through the services, and which can be skipped without changing anything.

A symbol is *busy* while any service holds something about it that a price can act on: an order
resting at paper, a balance in its base asset, an open position (position's table, the gate's
and decision's projections, the backtest's own trade recorder). A bar of a symbol that is not
busy and that raises no signal moves nothing but "latest price" fields, which the next bar that
does go through sets again — so it is skipped: no ticks, no candle, no handler runs.

Two consumers keep history rather than a latest value, and get exactly what they need:
decision's candle window (``bars_read`` of the symbol's traders: the skipped bars just before
a signal are delivered to ``decision_candles`` first; when no trader's decisions review open
positions, no candle goes to decision but these, and none at all for rule traders whose
percent stops read no bar: their decision records then show fewer candles than the services'
would, the decisions themselves are the same), and position's ATR for ATR trailing
stops (every candle, when any trader uses one). Skipping is an optimisation of delivery only:
``tests/e2e/test_backtest_parity.py`` holds the result equal to the distributed replay, which
delivers everything."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from robson_contracts import Candle, FeedSource
from robson_decision.domain.rules import reviews_nothing
from robson_decision.domain.settings import EngineName
from robson_decision.handlers.context import bars_read
from robson_signal.domain.bars import Bar
from robson_signal.domain.events import checked_bar_candle

from robson_backtest.platform import Platform


class Activity:
    def __init__(self, platform: Platform, skipping: bool = True) -> None:
        self._platform = platform
        self.skipping = skipping
        spec = platform.spec
        self.window = max((bars_read(t.decision) for t in spec.traders), default=0)
        """How many bars decision must have seen before it decides (the largest window its
        entries read: none for rules with percent stops)."""
        self.atr_history = any(t.management.trailing_atr_multiple for t in spec.traders)
        """An ATR trailing stop: position's ATR needs every candle from the start."""
        self.decision_reviews = not skipping or any(
            t.decision.engine is not EngineName.RULES or not reviews_nothing(t.decision)
            for t in spec.traders)
        """Decision reviews open positions on candles (an LLM, or a time exit, trail or
        breakeven rule). Otherwise its candles only fill the window a signal is decided on:
        every bar is kept for ``catch_up`` instead, busy symbols' too."""
        self._skipped: dict[tuple[str, str], deque[tuple[Bar, Candle | None]]] = {}

    def busy(self, symbols: Iterable[str]) -> set[str]:
        p = self._platform
        wanted = set(symbols)
        if not self.skipping:
            return wanted
        out = {o.symbol for o in p.paper.exchange.orders.values() if o.symbol in wanted}
        out |= {pos.symbol for pos in p.recorder.open.values() if pos.symbol in wanted}
        out |= {row.symbol for row in p.position_tables.active.values() if row.symbol in wanted}
        for symbol in wanted - out:
            if (p.gate.accounts.holders((symbol,)) or p.decisions.memory.has_open_on(symbol)
                    or self._holds_base(symbol)):
                out.add(symbol)
        return out

    def quiet(self, bar: Bar) -> bool:
        """A busy symbol's bar whose ticks can change nothing the candle does not: no order at
        paper can trigger anywhere on its path (nor in the gap from the last price to its
        open), and no account holding the symbol has its drawdown or daily-loss watch on (the
        gate follows equity tick by tick then). When every bar of a step is quiet, the step's
        ticks are left out: nothing happens between them, paper fills the path in from the
        candle (the same points), position's marks take the candle's high and low."""
        if not self.skipping:
            return False
        p = self._platform
        ex = p.paper.exchange
        symbol = bar.symbol
        state = ex.markets.get(symbol)
        if state is None or state.last_price is None:
            return False
        low, high = min(bar.low, state.last_price), max(bar.high, state.last_price)
        if not ex.nothing_acts_within(symbol, low, high):
            return False
        for account_id in p.gate.accounts.holders((symbol,)):
            policy = p.gate.policies.account(account_id)
            if policy.drawdown.enabled or policy.daily_loss.enabled:
                return False
        return True

    def _holds_base(self, symbol: str) -> bool:
        rules = self._platform.paper.rules.get(symbol)
        if rules is None:
            return True  # unknown to paper: never assume it is idle
        base = rules.base
        for account in self._platform.paper.exchange.accounts.values():
            if account.free.get(base) or account.borrowed.get(base) or account.locked(base):
                return True
        return False

    def skip(self, bar: Bar, candle: Candle | None = None) -> None:
        """Keep ``bar`` for decision's window (with its ``candle`` event when already built)."""
        if not self.window:
            return
        key = (bar.symbol, bar.timeframe.value)
        kept = self._skipped.get(key)
        if kept is None:
            kept = self._skipped[key] = deque(maxlen=self.window)
        kept.append((bar, candle))

    def catch_up(self, symbol: str) -> list[Candle]:
        """The candles of ``symbol`` decision has not seen, oldest first, and forget them."""
        out: list[tuple[Bar, Candle | None]] = []
        for (sym, _), kept in self._skipped.items():
            if sym == symbol and kept:
                out.extend(kept)
                kept.clear()
        out.sort(key=lambda kept: (kept[0].close_ms, kept[0].timeframe.seconds))
        return [candle or checked_bar_candle(bar, FeedSource.REPLAY) for bar, candle in out]
