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
from datetime import datetime
from decimal import Decimal

from robson_contracts import Candle, FeedSource
from robson_contracts.pricepath import candle_path
from robson_decision.domain.rules import reviews_nothing
from robson_decision.domain.settings import EngineName
from robson_decision.handlers.context import bars_read
from robson_entry_gate.handlers.deps import GateDeps
from robson_entry_gate.handlers.market import watch_may_see, watch_would_act
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
        self._idle: set[str] = set()
        """Symbols found idle since the bus last delivered anything (``_idle_at``): only a
        delivered message changes what the services hold, so they stay idle until one is."""
        self._busy: set[str] = set()
        """Symbols found busy since then: they stay busy as long."""
        self._idle_at = -1

    def busy(self, symbols: Iterable[str]) -> set[str]:
        p = self._platform
        wanted = set(symbols)
        if not self.skipping:
            return wanted
        if p.bus.published != self._idle_at:
            self._idle_at, self._idle, self._busy = p.bus.published, set(), set()
        wanted -= self._idle
        if not wanted:
            return wanted
        known = wanted & self._busy
        if known == wanted:  # a held symbol's quiet bars: asked again and again
            return known
        wanted -= known
        out = {o.symbol for o in p.paper.exchange.orders.values() if o.symbol in wanted}
        out |= {pos.symbol for pos in p.recorder.open.values() if pos.symbol in wanted}
        out |= {row.symbol for row in p.position_tables.active.values() if row.symbol in wanted}
        for symbol in wanted - out:
            if (p.gate.accounts.holders((symbol,)) or p.decisions.memory.has_open_on(symbol)
                    or self._holds_base(symbol)):
                out.add(symbol)
        self._idle |= wanted - out
        self._busy |= out
        return out | known

    def quiet(self, live: list[Bar], owed: dict[str, Decimal] | None = None,
              unwatched: bool = False) -> bool:
        """A step whose path ticks can change nothing its candles do not, so they are left out:

        - no order at paper can trigger anywhere on a bar's path, nor in the gap from the last
          price paper saw to its open (paper then fills the path in from the candle: the same
          points; position's marks take the candle's high and low);
        - entry_gate's watch would not act on the ticks, nor roll a holder's day at a reset
          before the candles are through (``watch_would_act``, asked with the very prices the
          ticks would carry, in their order, then each candle's close: the watch sees prices,
          not the moves between them, so a gap is nothing to it). Between the ticks' last
          price and a candle's close nothing moves, so a candle then finds what the ticks'
          batch left: the watch's figures at the same prices (the equity it carries from batch
          to batch is the same sum), and the day the ticks would have rolled is excluded;
        - no account holding one of the step's symbols holds another: with two, each candle
          would be judged with the other symbol still at its last price — a point that lies
          on no tick's path.

        ``owed``: the closes of bars held back from paper (``deferral.py``): its last price
        once it has them. ``unwatched``: the caller found ``watch_may_see`` false for every
        bar of ``live`` already."""
        if not self.skipping:
            return False
        p = self._platform
        ex = p.paper.exchange
        for bar in live:
            state = ex.markets.get(bar.symbol)
            last = owed.get(bar.symbol) if owed else None
            if last is None:
                if state is None or state.last_price is None:
                    return False
                last = state.last_price
            low, high = min(bar.low, last), max(bar.high, last)
            if not ex.nothing_acts_within(bar.symbol, low, high):
                return False
        gate = p.gate
        if unwatched or not any(watch_may_see(gate, bar.symbol, bar.close_time) for bar in live):
            return True  # every price of the step only moves the gate's view
        if len(live) > 1 and _holds_two(gate, {bar.symbol for bar in live}):
            return False
        return not watch_would_act(gate, _path_prices(live))

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


def _path_prices(live: list[Bar]) -> list[tuple[str, Decimal, datetime]]:
    """The prices the step's path ticks would carry, in the order the engine sends them
    (``path_ticks``: ``candle_path``'s points; sorted by time, then symbol, across bars), then
    each candle's close at its close time, in the order the candles go out."""
    points = [(p.at, bar.symbol, p.price) for bar in live
              for p in candle_path(bar.open_time, bar.close_time, bar.open, bar.high, bar.low,
                                   bar.close)]
    if len(live) > 1:
        points.sort(key=lambda point: (point[0], point[1]))
    out = [(symbol, price, at) for at, symbol, price in points]
    out.extend((bar.symbol, bar.close, bar.close_time) for bar in live)
    return out


def _holds_two(gate: GateDeps, symbols: set[str]) -> bool:
    """Does any account hold a position in two of ``symbols``?"""
    seen: set[str] = set()
    for symbol in symbols:
        holders = gate.accounts.holders((symbol,))
        if seen & holders:
            return True
        seen |= holders
    return False
