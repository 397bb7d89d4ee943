"""Application services shared by bus handlers and HTTP routes: modify, close, close-all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from robson_contracts import ExitReason, Message, Modification, TriggeredBy, Violation
from robson_kit.errors import ConflictError, PermanentError
from robson_kit.uow import UnitOfWork

from robson_position.adapters.repository import audit_of, positions_of
from robson_position.domain.management import apply_modification, reject_modification, request_close
from robson_position.domain.position import Position
from robson_position.domain.validation import Request, validate
from robson_position.handlers.runtime import Runtime
from robson_position.handlers.tradelog import log_trade_event


@dataclass(frozen=True)
class Verdict:
    applied: bool
    violations: tuple[Violation, ...]
    version: int


def emit_all(uow: UnitOfWork, position: Position) -> None:
    for message in position.outbox:
        uow.emit(message)
        log_trade_event(message)
    position.outbox.clear()


async def load(uow: UnitOfWork, position_id: str, account_id: str | None = None) -> Position:
    position = await positions_of(uow.session).get(position_id)
    if position is None or (account_id is not None and position.s.account_id != account_id):
        raise PermanentError("UNKNOWN_POSITION", f"no position {position_id}"
                             + (f" in account {account_id}" if account_id else ""))
    return position


async def modify(uow: UnitOfWork, rt: Runtime, position: Position, mod: Modification,
                 triggered_by: TriggeredBy, override_manual: bool, cause: Message, at: datetime,
                 expected_version: int | None = None) -> Verdict:
    """Validate, then apply or reject; store the request and its verdict either way."""
    if expected_version is not None and expected_version != position.s.version:
        raise ConflictError(f"position {position.s.position_id} is at version {position.s.version}, "
                            f"not {expected_version}")
    rt.equip(position)
    policy = await rt.settings.policy(uow, position.s.trader_id)
    price = rt.book.prices.get(position.s.symbol)
    violations = validate(position, Request(mod, triggered_by, override_manual, at, price), policy)
    if violations:
        reject_modification(position, mod, triggered_by, violations, cause, at)
    else:
        apply_modification(position, mod, triggered_by, cause, at)
        await positions_of(uow.session).save(position)
        rt.after_commit(uow, position)
    await audit_of(uow.session).record(
        position_id=position.s.position_id, message_id=str(cause.message_id), at=at,
        triggered_by=triggered_by.value, kind=mod.kind.value,
        request=json.loads(mod.model_dump_json()), verdict="REJECTED" if violations else "APPLIED",
        violations=[json.loads(v.model_dump_json()) for v in violations], reason=mod.reason,
        outcome=f"stop={position.s.stop_loss}" if not violations else "",
    )
    emit_all(uow, position)
    return Verdict(not violations, tuple(violations), position.s.version)


async def close(uow: UnitOfWork, rt: Runtime, position: Position, reason: ExitReason,
                fraction: Decimal | None, triggered_by: TriggeredBy, cause: Message, at: datetime,
                note: str = "") -> bool:
    acted = request_close(rt.equip(position), reason, fraction, cause, at)
    if acted:
        position.s.exit_note = note or position.s.exit_note
        await positions_of(uow.session).save(position)
        rt.after_commit(uow, position)
    await audit_of(uow.session).record(
        position_id=position.s.position_id, message_id=str(cause.message_id), at=at,
        triggered_by=triggered_by.value, kind="CLOSE" if fraction is None else "PARTIAL_CLOSE",
        request={"reason": reason.value, "fraction": None if fraction is None else str(fraction)},
        verdict="APPLIED" if acted else "IGNORED", violations=[], reason=note,
        outcome=position.s.status.value,
    )
    emit_all(uow, position)
    return acted


async def close_all(uow: UnitOfWork, rt: Runtime, account_id: str, reason: ExitReason,
                    triggered_by: TriggeredBy, cause: Message, at: datetime, note: str = "") -> int:
    count = 0
    for position in await positions_of(uow.session).active(account_id=account_id):
        count += await close(uow, rt, position, reason, None, triggered_by, cause, at, note)
    return count
