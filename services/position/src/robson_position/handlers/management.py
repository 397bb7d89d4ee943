"""Management input: TradeDecisions with a position_id, position commands, risk events."""

from __future__ import annotations

from robson_contracts import (
    CloseAllPositions,
    ClosePosition,
    DecisionKind,
    ExitReason,
    ModifyPosition,
    TradeDecision,
    TraderStatusChanged,
    TriggeredBy,
    derive_id,
)
from robson_kit import logs
from robson_kit.errors import NotYet, PermanentError
from robson_kit.uow import UnitOfWork

from robson_position.adapters.repository import settings_of
from robson_position.domain.state import PositionState
from robson_position.handlers.commands import close, close_all, load, modify
from robson_position.handlers.runtime import Runtime
from robson_position.handlers.waiting import ASK_AGAIN_SECONDS, ahead_of_marks

log = logs.get_logger(__name__)


def is_about_a_position(d: TradeDecision) -> bool:
    """Only decisions about an existing position; entries go through entry_gate."""
    return d.position_id is not None


async def handle_trade_decision(d: TradeDecision, uow: UnitOfWork, rt: Runtime) -> None:
    if not is_about_a_position(d):
        return
    position = await load(uow, d.position_id, d.account_id)
    await _wait_for_its_candle(position.s, d, rt)
    at = d.occurred_at
    reason = ExitReason.MANUAL_CLOSE if d.triggered_by is TriggeredBy.USER_MANUAL else ExitReason.AI_CLOSE
    if d.decision is DecisionKind.CLOSE:
        await close(uow, rt, position, reason, None, d.triggered_by, d, at, note=d.reasoning)
    elif d.decision is DecisionKind.PARTIAL_TP:
        if d.close_fraction is None:
            raise PermanentError("MISSING_CLOSE_FRACTION", "PARTIAL_TP needs close_fraction")
        await close(uow, rt, position, ExitReason.TAKE_PROFIT, d.close_fraction, d.triggered_by, d, at,
                    note=d.reasoning)
    for mod in d.modifications:
        await modify(uow, rt, position, mod, d.triggered_by, False, d, at)


async def _wait_for_its_candle(s: PositionState, d: TradeDecision, rt: Runtime) -> None:
    if not ahead_of_marks(s, d):
        rt.decision_wait.done(d.message_id)
        return
    if rt.decision_wait.keep_waiting(d.message_id):
        raise NotYet(f"position {s.position_id} has marked candles up to {s.last_candle_at}; "
                     f"the decision is from {d.occurred_at}", delay=ASK_AGAIN_SECONDS)
    log.warning("position.decision_ahead_of_marks", position_id=s.position_id,
                last_candle_at=str(s.last_candle_at), decided_at=str(d.occurred_at),
                waited_seconds=rt.decision_wait.limit)


async def handle_position_command(
    cmd: ClosePosition | CloseAllPositions | ModifyPosition, uow: UnitOfWork, rt: Runtime
) -> None:
    at = cmd.occurred_at
    if isinstance(cmd, CloseAllPositions):
        await close_all(uow, rt, cmd.account_id, cmd.reason, cmd.triggered_by, cmd, at, note=cmd.note)
    elif isinstance(cmd, ClosePosition):
        position = await load(uow, cmd.position_id, cmd.account_id)
        await close(uow, rt, position, cmd.reason, cmd.fraction, cmd.triggered_by, cmd, at)
    else:
        position = await load(uow, cmd.position_id, cmd.account_id)
        await modify(uow, rt, position, cmd.modification, cmd.triggered_by, cmd.override_manual, cmd, at)


async def set_paused(uow: UnitOfWork, rt: Runtime, account_id: str, trader_id: str, paused: bool,
                     reason: str, cause: object | None = None) -> bool:
    changed = await settings_of(uow.session).set_paused(trader_id, account_id, paused, reason)
    rt.settings.changed(uow, "trader", trader_id)
    if changed:
        at = rt.market_clock.now() if cause is None else cause.occurred_at  # type: ignore[attr-defined]
        key = cause.message_id if cause is not None else at.isoformat()  # type: ignore[attr-defined]
        extra = cause.caused() if cause is not None else {}  # type: ignore[attr-defined]
        uow.emit(TraderStatusChanged(
            **extra, message_id=derive_id("trader-status", trader_id, paused, key), occurred_at=at,
            account_id=account_id, trader_id=trader_id, paused=paused, reason=reason))
    return changed
