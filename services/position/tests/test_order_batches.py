"""Order events of one transaction (a consumer batch) read and write each position once."""

from __future__ import annotations

import pytest
from robson_contracts import OrderRole, OrderType, PositionOpened, PositionStatus, Side
from robson_kit.errors import ConflictError
from robson_position.adapters.repository import Positions
from robson_position.deps import PositionService
from robson_position.domain.orders import position_id_for
from robson_position.handlers.entries import handle_gate_decision
from robson_position.handlers.orders import handle_order_event

from .factories import D, accepted, filled, gate


async def _pending(service: PositionService, trader: str) -> str:
    g = gate(gate_id=f"g-{trader}", trader=trader)
    async with service.uow() as uow:
        await handle_gate_decision(g, uow, service.deps.runtime)
    return position_id_for(g.gate_decision_id)


def _paper_events(pid: str) -> list:  # type: ignore[type-arg]
    """What paper publishes together for the bracket: entry accepted + filled, children accepted."""
    children = [accepted(pid, f"{pid}-0T{i}", OrderRole.TAKE_PROFIT, "0.1", Side.SELL, OrderType.LIMIT,
                         price=price) for i, price in enumerate(("51000", "52000"))]
    children += [accepted(pid, f"{pid}-0S{i}", OrderRole.STOP_LOSS, "0.1", Side.SELL,
                          OrderType.STOP_MARKET, stop="49000") for i in range(2)]
    return [accepted(pid, f"{pid}-0E", OrderRole.ENTRY, "0.2", Side.BUY, OrderType.MARKET),
            filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), *children]


async def _load(service: PositionService, pid: str):  # type: ignore[no-untyped-def]
    async with service.uow() as uow:
        return await Positions(uow.session).get(pid)


async def test_paper_events_in_one_transaction_end_as_one_by_one_with_a_single_write(
    service: PositionService,
) -> None:
    rt = service.deps.runtime
    together, apart = await _pending(service, "t1"), await _pending(service, "t2")
    async with service.uow() as uow:
        for event in _paper_events(together):
            await handle_order_event(event, uow, rt)
        opened = [m for m in uow.emitted if isinstance(m, PositionOpened)]
    for event in _paper_events(apart):
        async with service.uow() as uow:
            await handle_order_event(event, uow, rt)
    batched, single = await _load(service, together), await _load(service, apart)
    assert batched.s.version == 2 and single.s.version == 7
    assert [m.position_id for m in opened] == [together]
    assert batched.s.status is PositionStatus.OPEN and batched.s.entry_price == D("50000")
    strip = {"position_id", "version", "trader_id", "gate_decision_id", "decision_id", "list_id",
             "orders", "fill_ids"}
    assert batched.s.model_dump(exclude=strip) == single.s.model_dump(exclude=strip)
    assert [o.accepted for o in batched.s.orders.values()] == [o.accepted for o in single.s.orders.values()]
    assert rt.book.get("BTCUSDT", together).entry == D("50000")


async def test_batch_over_a_position_written_meanwhile_conflicts_and_leaves_it_untouched(
    service: PositionService,
) -> None:
    rt = service.deps.runtime
    pid = await _pending(service, "t1")
    with pytest.raises(ConflictError):
        async with service.uow() as uow:
            for event in _paper_events(pid):
                await handle_order_event(event, uow, rt)
            async with service.uow() as other:  # e.g. an API call committing first
                concurrent = await Positions(other.session).get(pid)
                await Positions(other.session).save(concurrent)
    stored = await _load(service, pid)
    assert stored.s.status is PositionStatus.PENDING_ENTRY and stored.s.version == 2
    assert rt.book.get("BTCUSDT", pid) is None
    async with service.uow() as uow:
        assert await Positions(uow.session).fill_count(pid) == 0


async def test_event_on_a_mirror_behind_the_database_conflicts_once_then_applies_on_the_stored_state(
    service: PositionService,
) -> None:
    rt = service.deps.runtime
    pid = await _pending(service, "t1")
    async with service.uow() as other:  # committed, but not mirrored yet (its after-commit pending)
        stored = await Positions(other.session).get(pid)
        stored.s.exit_note = "written elsewhere"
        await Positions(other.session).save(stored)
    entry_accepted, entry_filled = _paper_events(pid)[:2]
    with pytest.raises(ConflictError):
        async with service.uow() as uow:
            await handle_order_event(entry_accepted, uow, rt)
    async with service.uow() as uow:  # the redelivery
        await handle_order_event(entry_accepted, uow, rt)
        await handle_order_event(entry_filled, uow, rt)
    position = await _load(service, pid)
    assert (position.s.version, position.s.status) == (3, PositionStatus.OPEN)
    assert position.s.exit_note == "written elsewhere"
