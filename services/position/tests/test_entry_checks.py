"""One active position per trader/symbol/side, checked from the in-memory index of active
positions (the database is asked only when the index says one may exist)."""

from __future__ import annotations

from datetime import timedelta

from robson_contracts import (
    OrderRejected,
    OrderRole,
    PositionEntryFailed,
    PositionStatus,
    SubmitBracketOrder,
    TradeTick,
)
from robson_position.adapters.repository import Positions
from robson_position.deps import PositionService
from robson_position.domain.orders import position_id_for
from robson_position.handlers.entries import handle_gate_decision
from robson_position.handlers.market import apply_tick
from robson_position.handlers.orders import handle_order_event
from robson_position.main import build_service
from robson_position.settings import PositionSettings

from .factories import T0, gate


async def _handle(service: PositionService, *gates) -> list:  # type: ignore[no-untyped-def,type-arg]
    async with service.uow() as uow:
        for g in gates:
            await handle_gate_decision(g, uow, service.deps.runtime)
        return uow.emitted


def _refusals(emitted: list) -> list[str]:  # type: ignore[type-arg]
    return [m.reason_code for m in emitted if isinstance(m, PositionEntryFailed)]


def _brackets(emitted: list) -> list[str]:  # type: ignore[type-arg]
    return [m.position_id for m in emitted if isinstance(m, SubmitBracketOrder)]


async def test_second_entry_on_a_held_trader_symbol_side_is_refused_in_and_after_its_transaction(
    service: PositionService,
) -> None:
    emitted = await _handle(service, gate(gate_id="g1"), gate(gate_id="g2"))
    assert _brackets(emitted) == [position_id_for("g1")] and _refusals(emitted) == ["POSITION_EXISTS"]
    later = await _handle(service, gate(gate_id="g3"), gate(gate_id="g4", side="SHORT", stop="51000",
                                                             tps=(("49000", "1"),)))
    assert _refusals(later) == ["POSITION_EXISTS"] and _brackets(later) == [position_id_for("g4")]


async def test_entry_after_the_held_position_ended_opens_a_new_one(service: PositionService) -> None:
    rt = service.deps.runtime
    await _handle(service, gate(gate_id="g1"))
    pid = position_id_for("g1")
    rejected = OrderRejected(occurred_at=T0, account_id="acc1", venue="PAPER", order_id=f"{pid}-0E",
                             symbol="BTCUSDT", position_id=pid, role=OrderRole.ENTRY,
                             reason_code="INSUFFICIENT_BALANCE", message="no money")
    async with service.uow() as uow:
        await handle_order_event(rejected, uow, rt)
    emitted = await _handle(service, gate(gate_id="g2"))
    assert _brackets(emitted) == [position_id_for("g2")] and _refusals(emitted) == []


async def test_gate_decision_seen_again_under_a_new_message_id_changes_nothing(service: PositionService) -> None:
    first = gate(gate_id="g1")
    await _handle(service, first)
    again = first.model_copy(update={"message_id": first.message_id.__class__(int=first.message_id.int + 1)})
    assert await _handle(service, again) == []
    async with service.uow() as uow:
        stored = await Positions(uow.session).get(position_id_for("g1"))
    assert stored is not None and stored.s.status is PositionStatus.PENDING_ENTRY and stored.s.version == 1


async def test_restarted_service_still_refuses_an_entry_on_a_held_position(
    bus, nats_url: str, database_url: str, schema: str  # type: ignore[no-untyped-def]
) -> None:
    settings = PositionSettings(nats_url=nats_url, database_url=database_url, db_schema=schema,
                                resync_on_start=False)
    first = build_service(settings)
    await first.start()
    try:
        await _handle(first, gate(gate_id="g1"))
    finally:
        await first.stop()
    second = build_service(settings)
    await second.start()
    try:
        assert _refusals(await _handle(second, gate(gate_id="g2"))) == ["POSITION_EXISTS"]
    finally:
        await second.stop()


def _with_deadline(g, minutes: int = 15):  # type: ignore[no-untyped-def]
    return g.model_copy(update={"expires_at": g.occurred_at + timedelta(minutes=minutes)})


async def test_approval_the_market_has_passed_the_deadline_of_is_refused_with_approval_expired(
    service: PositionService,
) -> None:
    """Position was down or behind: the market moved on past the approval's deadline, so it was
    sized on old prices. Refused (the gate then releases its risk), nothing sent to a venue."""
    apply_tick(TradeTick(occurred_at=T0 + timedelta(minutes=16), symbol="BTCUSDT", price="50100"),
               service.deps.runtime)
    emitted = await _handle(service, _with_deadline(gate(gate_id="g1")))
    assert _refusals(emitted) == ["APPROVAL_EXPIRED"] and _brackets(emitted) == []
    (failed,) = [m for m in emitted if isinstance(m, PositionEntryFailed)]
    assert failed.gate_decision_id == "g1" and failed.status is PositionStatus.REJECTED


async def test_approval_inside_its_deadline_opens_and_one_without_a_deadline_too(
    service: PositionService,
) -> None:
    apply_tick(TradeTick(occurred_at=T0 + timedelta(minutes=14), symbol="BTCUSDT", price="50100"),
               service.deps.runtime)
    emitted = await _handle(service, _with_deadline(gate(gate_id="g1")),
                            gate(gate_id="g2", symbol="ETHUSDT"))
    assert _refusals(emitted) == []
    assert _brackets(emitted) == [position_id_for("g1"), position_id_for("g2")]


async def test_approval_before_any_market_event_is_acted_on(service: PositionService) -> None:
    """No event time yet (a fresh start in a replay): the wall clock is years from the replay's
    time and must not void its approvals."""
    emitted = await _handle(service, _with_deadline(gate(gate_id="g1"), minutes=1))
    assert _brackets(emitted) == [position_id_for("g1")]
