"""Asking the model ahead: the LLM call of a decision, made before the consumer's batch
transaction opens (``ConsumerSpec.prepare``) and recorded at once, so no transaction waits on
the model and no retry or batch split pays for it twice. The handler, inside the transaction,
builds the same context and finds the recorded answer (``engines._asked_before``).

The context is read in a short transaction that ends before the call. A review's bars are the
committed ones, the candles handled before it in the same batch (a backlog: handed here in
order, written by the handler in its transaction before this one) and the candle itself: the
bars are foreseen from the stored ones and the candles handed here since, so a backlog is asked
ahead in one pass. A candle that never came (a gap in the market data) is in neither: the
handler reads the same bars as here. Whenever the handler's prompt was not asked here anyway
(inputs that changed in between: a position opened meanwhile, an earlier candle rolled back and
not redelivered yet), the handler does not ask either: the message comes back (``NotYet``) and
its redelivery asks ahead, bounded by ``handlers/waits.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from robson_contracts import Candle, SignalDetected
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.memory import Memory, projection
from robson_decision.adapters.repository import Repository
from robson_decision.domain.context import Bar, DecisionContext
from robson_decision.domain.decide import Stamp
from robson_decision.domain.settings import EngineName, TraderSettings
from robson_decision.handlers.asked import AskedAhead, OneAtATime
from robson_decision.handlers.context import day_start, entry_context, review_bars, review_context
from robson_decision.handlers.decisions import DEFAULT_REVIEW_TIMEFRAME
from robson_decision.handlers.engines import Decider

UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
HANDED_REMEMBERED = 1_000
"""Closed candles remembered per symbol and timeframe (a fetched batch holds far fewer)."""


@dataclass
class ShortTransactions:
    """The model-call record, each read or write in a transaction of its own."""

    uow: UowFactory
    repository: Callable[[UnitOfWork], Repository]

    async def recorded_calls(self, prompt_hash: str) -> list[Any]:
        async with self.uow() as uow:
            return await self.repository(uow).recorded_calls(prompt_hash)

    async def add_model_calls(self, rows: list[dict[str, Any]]) -> None:
        async with self.uow() as uow:
            await self.repository(uow).add_model_calls(rows)

    async def prompts_asked(self, decision_id: str) -> int:
        async with self.uow() as uow:
            return await self.repository(uow).prompts_asked(decision_id)


@dataclass
class AskAhead:
    decider: Decider
    memory: Memory
    uow: UowFactory
    repository: Callable[[UnitOfWork], Repository] = Repository
    handed: dict[tuple[str, str], OrderedDict[datetime, Bar]] = field(default_factory=dict)
    """The closed candles handed to ``on_candle`` by open time, per symbol and timeframe: those
    not stored yet are the batch's earlier candles, which the handler writes before this one."""
    asked: AskedAhead = field(default_factory=AskedAhead)
    """The asks whose decisions are not stored yet (shared with the handlers, which settle
    them on commit): counted against the day's budget on top of the stored calls."""
    asking: OneAtATime = field(default_factory=OneAtATime)
    """The consumer prepares a batch's messages together (``llm_ask_ahead_concurrency``): one
    decision twice in a batch (a signal sent again under another id) is asked once, and found
    recorded by its second ask, as one after another."""

    @property
    def live(self) -> bool:
        return not self.decider.replay and self.decider.client is not None

    async def on_signal(self, signal: SignalDetected) -> None:
        s = self.memory.trader_settings(signal.trader_id)
        if s.engine is not EngineName.LLM or not self.live:
            return
        stamp = Stamp.for_signal(signal)
        async with self.uow() as uow:  # ends before the model is asked
            repo = self.repository(uow)
            if await repo.decided(stamp.decision_id):
                return  # a redelivery: decided, the message a duplicate its handler drops
            ctx = await entry_context(self.memory, repo, signal, s)
            calls = await self._calls(repo, ctx, s, stamp)
        await self._ask([(ctx, s, stamp, calls)])

    async def on_candle(self, candle: Candle) -> None:
        """The reviews ``DecisionHandlers._review`` will make on this candle, same filters."""
        if not candle.closed or not self.live:
            return
        handed = self._hand(candle)
        if not self.memory.has_open_on(candle.symbol):
            return
        bar = handed[candle.open_time]
        step = timedelta(seconds=candle.timeframe.seconds)
        asks: list[tuple[DecisionContext, TraderSettings, Stamp, int]] = []
        async with self.uow() as uow:  # ends before the model is asked
            repo = self.repository(uow)
            for row in await repo.open_positions_on(candle.symbol):
                p = projection(row)
                s = self.memory.trader_settings(p.trader_id)
                timeframe = s.review_timeframe or p.timeframe or DEFAULT_REVIEW_TIMEFRAME
                if (
                    candle.close_time <= p.position.opened_at
                    or s.engine is not EngineName.LLM
                    or timeframe != candle.timeframe.value
                ):
                    continue
                limit = review_bars(s)
                stored = await repo.bars(candle.symbol, timeframe, candle.open_time, limit)
                earlier = _unstored_before(stored, bar, step, handed)
                if earlier is None:
                    continue  # stored: a redelivery, its reviews committed with it
                bars = _with_candle(stored, earlier, bar, limit)
                ctx = await review_context(
                    self.memory, candle, bars, p.position, p.account_id, p.trader_id, repo
                )
                stamp = Stamp.for_review(candle, p.position.position_id)
                asks.append((ctx, s, stamp, await self._calls(repo, ctx, s, stamp)))
        await self._ask(asks)

    def _hand(self, candle: Candle) -> OrderedDict[datetime, Bar]:
        handed = self.handed.setdefault((candle.symbol, candle.timeframe.value), OrderedDict())
        handed[candle.open_time] = _bar(candle)
        handed.move_to_end(candle.open_time)
        while len(handed) > HANDED_REMEMBERED:
            handed.popitem(last=False)
        return handed

    async def _calls(self, repo: Repository, ctx: DecisionContext, s: TraderSettings,
                     stamp: Stamp) -> int:
        """The trader's calls today as the budget counts them: stored, and asked ahead for
        decisions not stored yet. Taken into the latter when this ask may call the model."""
        day = day_start(ctx.as_of)
        # Counted and reserved before the stored calls are read (the read awaits: another
        # consumer's ask-ahead may count meanwhile, and must see this one); an ask settled
        # before the count committed before the read, so it is counted there. Counted in both
        # (committed during the read), it only makes this ask more careful.
        calls = self.asked.count(ctx.trader_id, day)
        self.asked.reserve(ctx.trader_id, stamp.decision_id, day)
        calls += await repo.llm_calls_on(ctx.trader_id, day)
        if calls >= s.llm_daily_call_budget:
            self.asked.release(ctx.trader_id, stamp.decision_id)  # it asks nothing
        return calls

    async def _ask(self, asks: list[tuple[DecisionContext, TraderSettings, Stamp, int]]) -> None:
        record = ShortTransactions(self.uow, self.repository)
        for ctx, s, stamp, calls in asks:
            async with self.asking.one(stamp.decision_id):
                await self.decider.ask_ahead(ctx, s, stamp, record, calls)


def _bar(candle: Candle) -> Bar:
    return Bar(candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume)


def _unstored_before(
    stored: tuple[Bar, ...], bar: Bar, step: timedelta, handed: Mapping[datetime, Bar]
) -> list[Bar] | None:
    """The candles handed before this one and not stored, oldest first: the batch's earlier
    ones, which the handler writes before this one (back to the stored bars, or to a gap in the
    market data: a candle that never came is in neither). None: this candle is stored already
    (a redelivery), its bars are the stored ones."""
    if stored and stored[-1].open_time == bar.open_time:
        return None
    last_stored = stored[-1].open_time if stored else None
    earlier: list[Bar] = []
    at = bar.open_time - step
    while at in handed and (last_stored is None or at > last_stored):
        earlier.append(handed[at])
        at -= step
    earlier.reverse()
    return earlier


def _with_candle(
    stored: tuple[Bar, ...], earlier: list[Bar], bar: Bar, limit: int
) -> tuple[Bar, ...]:
    """The bars the handler will read once it has written this candle: the stored ones, the
    batch's earlier candles (``_unstored_before``), then this one."""
    return (*stored, *earlier, bar)[-limit:]
