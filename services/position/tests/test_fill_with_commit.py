"""A fill is new when the position has not seen it (its ``fill_ids``): its row in ``fills`` is a
record, sent in the COMMIT's round trip when the kit owns the transaction. The same fill in
another message is still counted once, and a fill the position refused is refused once."""

from __future__ import annotations

from robson_contracts import OrderRole, OrderType, PositionError, PositionOpened, Side
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import log_queries, read_stream, wait_until
from robson_position.adapters.repository import Positions
from robson_position.deps import PositionService
from robson_position.domain.orders import position_id_for
from robson_position.handlers.entries import handle_gate_decision
from robson_position.handlers.orders import handle_order_event
from robson_position.main import build_service
from robson_position.settings import PositionSettings

from .factories import D, accepted, filled, gate


async def _orders_consumed(bus: Bus, count: int) -> bool:
    info = await bus.js.consumer_info(s.ORDERS.name, "position_orders")
    return info.ack_floor.stream_seq >= count and not info.num_pending and not info.num_ack_pending


async def _of(bus: Bus, cls: type) -> list[object]:
    return [m for m in await read_stream(bus, s.ALL_POSITION_EVENTS) if isinstance(m, cls)]


async def test_an_entry_fill_is_recorded_in_the_commits_round_trip_and_counted_once(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    service = build_service(PositionSettings(
        nats_url=nats_url, database_url=database_url, db_schema=schema, ack_wait_seconds=2,
        outbox_poll_seconds=0.2, resync_on_start=False, stop_watchdog_interval_seconds=0))
    executed = log_queries(service.engine)  # before start: every connection is logged
    await service.start()
    try:
        g = gate()
        pid = position_id_for(g.gate_decision_id)
        await bus.publish(g)
        await wait_until(lambda: _pending(service, pid), message="position pending")
        executed.clear()
        entry = filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY)
        await bus.publish(accepted(pid, f"{pid}-0E", OrderRole.ENTRY, "0.2", Side.BUY,
                                   OrderType.MARKET))
        await bus.publish(entry)
        await wait_until(lambda: _of(bus, PositionOpened), message="opened")
        committing = [q for q in executed if "INSERT INTO fills" in q]
        assert len(committing) == 1 and committing[0].rstrip().endswith("COMMIT")
        again = entry.model_copy(update={"message_id": filled(pid, "x", OrderRole.ENTRY, "1", "1",
                                                               Side.BUY).message_id})
        await bus.publish(again)  # the same fill in another message
        await wait_until(lambda: _orders_consumed(bus, 3), message="the copy consumed")
        async with service.uow() as uow:
            stored = await Positions(uow.session).get(pid)
            assert await Positions(uow.session).fill_count(pid) == 1
    finally:
        await service.stop()
    assert stored is not None and stored.s.entry_quantity == D("0.2")
    assert len(await _of(bus, PositionOpened)) == 1


async def _pending(service: PositionService, pid: str) -> bool:
    async with service.uow() as uow:
        return await Positions(uow.session).get(pid) is not None


async def test_a_fill_the_position_refused_is_refused_and_reported_once(
    service: PositionService,
) -> None:
    rt = service.deps.runtime
    g = gate()
    async with service.uow() as uow:
        await handle_gate_decision(g, uow, rt)
    pid = position_id_for(g.gate_decision_id)
    reported = []
    for _ in range(2):  # an exit fill before any entry: nothing is held to sell
        early_exit = filled(pid, f"{pid}-0S0", OrderRole.STOP_LOSS, "49000", "0.2", Side.SELL,
                            fill_id="f-early")
        async with service.uow() as uow:
            await handle_order_event(early_exit, uow, rt)
            reported += [m for m in uow.emitted if isinstance(m, PositionError)]
    assert [m.reason_code for m in reported] == ["NOTHING_HELD"]
    async with service.uow() as uow:
        stored = await Positions(uow.session).get(pid)
        assert await Positions(uow.session).fill_count(pid) == 1
    assert stored is not None and stored.seen_fill("f-early") and stored.s.entry_quantity == 0
