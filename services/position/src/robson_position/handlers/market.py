"""Market data: ticks mark the in-memory book; closed candles persist marks and run the rules."""

from __future__ import annotations

from robson_contracts import Candle, TradeTick, TriggeredBy
from robson_kit.uow import UnitOfWork

from robson_position.adapters.repository import positions_of
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position
from robson_position.domain.rules import acts_on_no_candle, evaluate
from robson_position.handlers.commands import close, modify
from robson_position.handlers.runtime import Runtime

DEFAULT_ATR_PERIODS = frozenset({14})
"""The ATR every symbol's candles keep, trailed or not."""


async def handle_tick(tick: TradeTick, uow: UnitOfWork, rt: Runtime) -> None:
    apply_tick(tick, rt)


def apply_tick(tick: TradeTick, rt: Runtime) -> bool:
    """A tick only moves in-memory marks and the market clock, so the consumer applies it
    as it is fetched and acks it with no transaction (``wants`` says no): returns False."""
    rt.book.on_price(tick.symbol, tick.price)
    rt.market_clock.observe(tick.occurred_at)
    return False


def wants_candle(candle: Candle, rt: Runtime) -> bool:
    """A closed candle on a symbol with no active position changes only memory (the market
    clock, the last price, the ATRs of the default period — what ``handle_candle`` does then):
    applied here and acked with no transaction (returns False)."""
    if not candle.closed:
        return False
    if rt.active.any_on(candle.symbol):
        return True
    rt.market_clock.observe(candle.close_time)
    rt.book.prices[candle.symbol] = candle.close
    rt.atr.update(candle.symbol, candle.timeframe, candle.close_time, candle.high,
                  candle.low, candle.close, DEFAULT_ATR_PERIODS)
    return False


async def handle_candle(candle: Candle, uow: UnitOfWork, rt: Runtime) -> None:
    """Every holding position on the symbol takes the candle (and the ticks' extremes since the
    last one) into its stored marks; the rules run on it. The positions are read once per
    transaction: a fetched batch of candles (a catch-up, a backtest's quiet bars) goes on with
    the same objects, and the marks the rules leave alone are written together just before
    commit, in one statement."""
    if not candle.closed:
        return
    at = candle.close_time
    rt.market_clock.observe(at)
    rt.book.prices[candle.symbol] = candle.close
    marks = _CandleMarks.held(uow, candle.symbol) or await _CandleMarks.read(uow, rt, candle.symbol)
    policies = marks.policies
    rt.atr.update(candle.symbol, candle.timeframe, at, candle.high, candle.low,
                  candle.close, marks.periods)  # before any entry too, so an ATR trail starts at once
    for position in marks.active:
        s = position.s
        if not s.holds or (s.last_candle_at is not None and at <= s.last_candle_at):
            continue  # an older candle (or another timeframe's) says nothing new
        if s.opened_at is not None and candle.close_time <= s.opened_at:
            continue
        mark = rt.book.get(s.symbol, s.position_id)
        candle_range = (candle.high, candle.low)
        position.mark_ranges(candle.close, (candle_range,) if mark is None or mark.high is None
                             else ((mark.high, mark.low), candle_range))  # type: ignore[arg-type]
        s.last_candle_at = at
        policy = policies[s.trader_id]
        if acts_on_no_candle(policy, s.trail_percent) \
                or not await _apply_rules(uow, rt, position, policy, candle):
            marks.marked(position)


class _CandleMarks:
    """A symbol's active positions as this transaction's candles left them, and those whose
    marks alone changed: written once, before commit (a position the rules saved after its
    marks changed was written whole then, and is left out). Their traders' policies and the
    ATR periods those keep are read with them, once per transaction: a batch of candles is
    judged under the policies as they stood when it began."""

    __slots__ = ("active", "pending", "periods", "policies")

    def __init__(self, active: list[Position], policies: dict[str, ManagementPolicy]) -> None:
        self.active = active
        self.policies = policies
        trailed = {p.trailing_atr_period for p in policies.values() if p.trailing_atr_multiple}
        self.periods = DEFAULT_ATR_PERIODS | trailed if trailed else DEFAULT_ATR_PERIODS
        self.pending: dict[str, tuple[Position, int]] = {}

    @staticmethod
    def held(uow: UnitOfWork, symbol: str) -> _CandleMarks | None:
        """The symbol's marks this transaction has read already (per session: the kit gives
        each message of a fetched batch a unit of work of its own, all on the batch's one
        session); a plain lookup, no coroutine, for every candle after the first."""
        return uow.session.info.get(_MARKS, _NONE).get(symbol)

    @staticmethod
    async def read(uow: UnitOfWork, rt: Runtime, symbol: str) -> _CandleMarks:
        """The transaction's first candle of ``symbol``: its active positions and their
        policies, read and kept in the session (``held``), written before commit."""
        active = await positions_of(uow.session).active_on(symbol)
        policies = {p.s.trader_id: await rt.settings.policy(uow, p.s.trader_id) for p in active}
        marks = uow.session.info.setdefault(_MARKS, {})[symbol] = _CandleMarks(active, policies)
        uow.before_commit((_MARKS, symbol), lambda u: marks.write(u, rt, symbol))
        return marks

    def marked(self, position: Position) -> None:
        self.pending[position.s.position_id] = (position, position.s.version)

    async def write(self, uow: UnitOfWork, rt: Runtime, symbol: str) -> None:
        uow.session.info.get(_MARKS, {}).pop(symbol, None)  # written: a later read starts afresh
        batch = [p for p, version in self.pending.values() if p.s.version == version]
        await positions_of(uow.session).save_marks(batch)
        for position in batch:
            rt.after_commit(uow, position)


_MARKS = "robson_position.market.candle_marks"
_NONE: dict[str, _CandleMarks] = {}


async def _apply_rules(uow: UnitOfWork, rt: Runtime, position: Position, policy: ManagementPolicy,
                       candle: Candle) -> bool:
    """True when the rules changed (and saved) the position."""
    at = candle.close_time
    atr = rt.atr.value(candle.symbol, candle.timeframe, policy.trailing_atr_period) \
        if policy.trailing_atr_multiple else None
    action = evaluate(position, policy, at, atr)
    if action is not None and action.close_reason is not None:
        return await close(uow, rt, position, action.close_reason, None, TriggeredBy.RULE_ENGINE,
                           candle, at, note=f"{action.close_reason.value} by policy")
    if action is not None and action.modification is not None:
        await modify(uow, rt, position, action.modification, TriggeredBy.RULE_ENGINE, False, candle, at)
        return position.s.last_modified_at == at  # rejected: only the marks to persist
    return False
