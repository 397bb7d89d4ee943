"""SignalDetected → an entry decision; a closed Candle → reviews of the open positions."""

from __future__ import annotations

from dataclasses import dataclass

from robson_contracts import Candle, SignalDetected
from robson_kit.clock import Clock
from robson_kit.errors import PermanentError
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.repository import Repository
from robson_decision.domain.decide import Outcome, Stamp
from robson_decision.domain.settings import EngineName, TraderSettings
from robson_decision.handlers.context import day_start, entry_context, review_context
from robson_decision.handlers.engines import Decider, ReplayRecordMissing
from robson_decision.handlers.record import record

DEFAULT_REVIEW_TIMEFRAME = "5m"


@dataclass
class DecisionHandlers:
    decider: Decider
    clock: Clock
    candles_kept: int = 500

    async def on_signal(self, signal: SignalDetected, uow: UnitOfWork) -> None:
        repo = Repository(uow.session)
        s = await repo.settings(signal.trader_id)
        ctx = await entry_context(repo, signal, s)
        outcome = await self._decide(repo, ctx, s, Stamp.for_signal(signal))
        if outcome is not None:
            await record(uow, repo, outcome, ctx, s, self.clock.now())

    async def on_candle(self, candle: Candle, uow: UnitOfWork) -> None:
        if not candle.closed:
            return
        repo = Repository(uow.session)
        await repo.add_candle(candle, self.candles_kept)
        for position, meta in await repo.open_positions_on(candle.symbol):
            if candle.close_time <= position.opened_at:
                continue
            s = await repo.settings(meta["trader_id"])
            timeframe = s.review_timeframe or meta["timeframe"] or DEFAULT_REVIEW_TIMEFRAME
            if timeframe != candle.timeframe.value:
                continue
            ctx = await review_context(
                repo, candle, position, meta["account_id"], meta["trader_id"], s
            )
            outcome = await self._decide(
                repo, ctx, s, Stamp.for_review(candle, position.position_id)
            )
            if outcome is None or _signature(outcome) == meta["last_suggestion"]:
                continue
            await record(uow, repo, outcome, ctx, s, self.clock.now())
            await repo.update_position(position.position_id, last_suggestion=_signature(outcome))

    async def _decide(
        self, repo: Repository, ctx, s: TraderSettings, stamp: Stamp
    ) -> Outcome | None:
        calls = 0
        if s.engine is EngineName.LLM:  # the budget only matters to the llm engine
            calls = await repo.llm_calls_on(ctx.trader_id, day_start(ctx.as_of))
        try:
            return await self.decider.decide(ctx, s, stamp, repo, calls)
        except ReplayRecordMissing as exc:
            raise PermanentError("REPLAY_RECORD_MISSING", str(exc)) from exc


def _signature(outcome: Outcome) -> str:
    """What a review suggested, so the same suggestion is not repeated every candle."""
    d = outcome.decision
    mods = ",".join(f"{m.kind.value}:{m.new_value or m.trail_percent}" for m in d.modifications)
    return f"{d.decision.value}|{mods}"[:64]
