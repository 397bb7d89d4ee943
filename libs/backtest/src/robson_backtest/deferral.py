"""Quiet candles of held symbols, held back and handed over together.

While a symbol is held, each of its bars goes through the services even when nothing can act
on it: position marks its positions, paper and entry_gate move the symbol's last price. Such a
bar is *owed* instead when nothing but those marks and prices can change:

- no signal in the step, and decision takes no candles but a signal's window (``Activity``:
  no trader reviews open positions, and no ATR trail needs every candle at once);
- paper: no order can act anywhere from the symbol's last price through the bar's range
  (``Activity.quiet``, from the last price the owed bars left);
- entry_gate: its watch does not see the symbol (no holder watches drawdown or daily loss);
  a price it does not see only moves its view, and the latest wins;
- position: the rules of every active position on the symbol act on no candle
  (``acts_on_no_candle``: no time exit, breakeven or trail), so a candle only moves its marks.

Before anything else goes through the services, the owed candles are handed over: all of them,
in order and as one fetched batch, to position (its marks take every range); the last of each
symbol to paper and entry_gate (for them a later price replaces an earlier one, and the owed
bars' ranges are already known to reach no order). The step's equity is valued meanwhile at
the owed closes, as paper would value it having seen them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from robson_contracts import Candle
from robson_entry_gate.handlers.market import holders_watched
from robson_position.domain.rules import acts_on_no_candle
from robson_signal.domain.bars import Bar

from robson_backtest.activity import Activity
from robson_backtest.platform import Platform, valued

POSITION_CANDLES = "position_candles"
LATEST_ONLY = ("paper_market", "entry_gate_market")


class Owed:
    def __init__(self, platform: Platform, activity: Activity) -> None:
        self._platform = platform
        self._activity = activity
        self.enabled = (activity.skipping and not activity.decision_reviews
                        and not activity.atr_history)
        self._candles: list[Candle] = []
        self.closes: dict[str, Decimal] = {}
        """The close of each symbol's latest owed bar (what paper would value it at)."""
        self._held: list[dict[str, Decimal]] | None = None
        """The accounts' holdings while bars are owed: nothing reaches paper meanwhile."""
        self._price: Callable[[str], Decimal | None] | None = None
        """Prices at the owed closes (``closes`` itself, read as it grows), set with ``_held``."""
        self._settled: dict[str, bool] = {}
        """Per symbol, whether neither the gate's watch nor any position's rules can see its
        bars (``_unseen``), as found since the bus last delivered anything (``_settled_at``):
        only a delivered message changes the projections, positions and policies it reads."""
        self._settled_at = -1

    def defer(self, live: list[Bar], candles: dict[int, Candle]) -> bool:
        """Owe the step's ``live`` bars (none signalled) if none of them can change more than
        marks and latest prices; returns whether they are owed."""
        if not self.enabled:
            return False
        p = self._platform
        if p.bus.published != self._settled_at:
            self._settled_at, self._settled = p.bus.published, {}
        due = p.gate.market.row_due
        for bar in live:
            unseen = self._settled.get(bar.symbol)
            if unseen is None:
                unseen = self._settled[bar.symbol] = self._unseen(bar.symbol)
            # ``watch_may_see`` in two parts: the holders' watch (kept) and the row's schedule
            if not unseen or due(bar.symbol, bar.close_time):
                return False
        if not self._activity.quiet(live, self.closes, unwatched=True):
            return False
        for bar in live:
            self._candles.append(candles[id(bar)])
            self.closes[bar.symbol] = bar.close
        return True

    def equity(self) -> Decimal:
        """The step's equity, valued at the owed closes."""
        if self._held is None or self._price is None:
            self._held = self._platform.holdings()
            self._price = self._platform.prices_with(self.closes)
        return valued(self._held, self._price)

    def _unseen(self, symbol: str) -> bool:
        """No holder of ``symbol`` watches prices and no rule of a position on it acts on a
        candle."""
        return not holders_watched(self._platform.gate, symbol) and self._rules_idle(symbol)

    def _rules_idle(self, symbol: str) -> bool:
        tables = self._platform.position_tables
        for row in tables.active.values():  # the active rows' index
            if row.symbol != symbol:
                continue
            if not acts_on_no_candle(tables.trader(row.trader_id)[1], row.state.trail_percent):
                return False
        return True

    async def settle(self) -> None:
        """Hand the owed candles over (see the module's docstring)."""
        self._held = self._price = None
        if not self._candles:
            return
        owed, self._candles = self._candles, []
        latest = list({c.symbol: c for c in owed}.values())
        self.closes = {}
        bus = self._platform.bus
        await bus.deliver_to(POSITION_CANDLES, owed)
        for consumer in LATEST_ONLY:
            await bus.deliver_to(consumer, latest)
