"""SignalDetected → an entry decision; a closed Candle → reviews of the open positions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from robson_contracts import Candle, SignalDetected
from robson_kit import logs
from robson_kit.clock import Clock
from robson_kit.errors import NotYet, PermanentError
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.memory import Memory, projection
from robson_decision.adapters.repository import Repository
from robson_decision.domain import rules
from robson_decision.domain.context import Bar, DecisionContext
from robson_decision.domain.decide import NothingToDo, Outcome, Stamp
from robson_decision.domain.settings import EngineName, TraderSettings
from robson_decision.handlers.approval_timer import ApprovalTimer
from robson_decision.handlers.asked import AskedAhead
from robson_decision.handlers.context import day_start, entry_context, review_bars, review_context
from robson_decision.handlers.engines import Decider, NotAskedAhead, ReplayRecordMissing, Unasked
from robson_decision.handlers.record import record
from robson_decision.handlers.waits import Waits

DEFAULT_REVIEW_TIMEFRAME = "5m"
log = logs.get_logger(__name__)


@dataclass
class DecisionHandlers:
    decider: Decider
    clock: Clock
    candles_kept: int = 500
    memory: Memory = field(default_factory=Memory)
    repository: Callable[[UnitOfWork], Repository] = Repository
    """The repository port (``adapters/memory_repository.py`` in the one-process backtest)."""
    timer: ApprovalTimer | None = None
    """Told of each cancel window opened (the service's approval loop sleeps on it)."""
    waits: Waits = field(default_factory=Waits)
    """Decisions waiting for their model call to be made ahead (``handlers/waits.py``)."""
    asked: AskedAhead = field(default_factory=AskedAhead)
    """The ask-ahead's uncommitted asks (``handlers/asked.py``): settled here on commit."""

    async def on_signal(self, signal: SignalDetected, uow: UnitOfWork) -> None:
        repo = self.repository(uow)
        s = self.memory.trader_settings(signal.trader_id)
        ctx = await entry_context(self.memory, repo, signal, s)
        stamp = Stamp.for_signal(signal)
        outcome = await self._decide(uow, repo, ctx, s, stamp, stamp.decision_id)
        if isinstance(outcome, Outcome):  # an entry question always has an answer
            await record(uow, repo, outcome, ctx, s, self.clock.now(), self.timer)

    async def on_candle(self, candle: Candle, uow: UnitOfWork) -> None:
        if not candle.closed:
            return
        repo = self.repository(uow)
        horizon = candle.open_time - timedelta(seconds=candle.timeframe.seconds * self.candles_kept)
        await repo.add_candle(candle, horizon)
        bar = Bar(
            candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume
        )
        uow.after_commit(
            lambda: self.memory.add_bar(candle.symbol, candle.timeframe.value, bar, horizon)
        )
        if self.memory.has_open_on(candle.symbol):
            await self._review(candle, uow, repo)

    async def _review(self, candle: Candle, uow: UnitOfWork, repo: Repository) -> None:
        """Positions and candles from the table: this consumer writes both (``last_suggestion``,
        the candles of its batch), and its own uncommitted writes are not in memory yet."""
        for row in await repo.open_positions_on(candle.symbol):
            if candle.close_time <= row["opened_at"]:
                continue
            s = self.memory.trader_settings(row["trader_id"])
            if s.engine is EngineName.RULES and rules.reviews_nothing(s):
                continue  # nothing to build a context for
            timeframe = s.review_timeframe or row["timeframe"] or DEFAULT_REVIEW_TIMEFRAME
            if timeframe != candle.timeframe.value:
                continue
            p = projection(row)  # only for the positions reviewed: it validates the row
            bars = await repo.bars(
                candle.symbol, candle.timeframe.value, candle.open_time, review_bars(s)
            )
            ctx = await review_context(
                self.memory, candle, bars, p.position, p.account_id, p.trader_id, repo
            )
            stamp = Stamp.for_review(candle, p.position.position_id)
            outcome = await self._decide(uow, repo, ctx, s, stamp, p.position.position_id)
            if isinstance(outcome, NothingToDo) or _signature(outcome) == row["last_suggestion"]:
                # No decision to store, but the model calls were paid: they count against the
                # trader's daily budget all the same (``llm_calls_on``).
                spent = outcome.model_calls if isinstance(outcome, NothingToDo) \
                    else outcome.info.model_calls
                if spent:
                    await repo.add_llm_usage(stamp.decision_id, ctx.trader_id, ctx.as_of, spent)
                continue
            await record(uow, repo, outcome, ctx, s, self.clock.now(), self.timer)
            await repo.update_position(p.position.position_id, last_suggestion=_signature(outcome))

    async def _decide(
        self,
        uow: UnitOfWork,
        repo: Repository,
        ctx: DecisionContext,
        s: TraderSettings,
        stamp: Stamp,
        group: str,
    ) -> Outcome | NothingToDo:
        """``group``: what the decision may be queued behind (``Waits.answered``)."""
        calls = 0
        if s.engine is EngineName.LLM:  # the budget only matters to the llm engine
            calls = await repo.llm_calls_on(ctx.trader_id, day_start(ctx.as_of))
        unasked = Unasked.GIVE_UP if self.waits.enough(stamp.decision_id) else Unasked.WAIT
        try:
            outcome = await self.decider.decide(ctx, s, stamp, repo, calls, unasked)
        except ReplayRecordMissing as exc:
            raise PermanentError("REPLAY_RECORD_MISSING", str(exc)) from exc
        except NotAskedAhead as exc:
            raise self._wait_for_ask_ahead(uow, stamp, group) from exc
        uow.after_commit(lambda: self._stored(ctx.trader_id, stamp.decision_id, group))
        return outcome

    def _stored(self, trader_id: str, decision_id: str, group: str) -> None:
        self.asked.stored(trader_id, decision_id)
        if self.waits.any():
            self.waits.answered(decision_id, group)

    def _wait_for_ask_ahead(self, uow: UnitOfWork, stamp: Stamp, group: str) -> NotYet:
        """Back to the stream: the redelivery's ``prepare`` asks the model ahead. In a batch of
        several messages the kit handles each alone at once: only that handling counts."""
        if len(uow.batch) <= 1 and self.waits.waited(stamp.decision_id, group) >= self.waits.limit:
            log.warning("decision.not_asked_ahead", decision_id=stamp.decision_id,
                        waits=self.waits.limit, next_delivery="the rules answer")
        return NotYet(f"decision {stamp.decision_id}: its model call is made ahead of the "
                      "transaction, never inside it")


def _signature(outcome: Outcome) -> str:
    """What a review suggested, so the same suggestion is not repeated every candle."""
    d = outcome.decision
    mods = ",".join(f"{m.kind.value}:{m.new_value or m.trail_percent}" for m in d.modifications)
    return f"{d.decision.value}|{mods}"[:64]
