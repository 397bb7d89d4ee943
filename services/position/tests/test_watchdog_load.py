"""The stop watchdog's cost on the real embedded Postgres: a round over many protected positions
(their stops resting at the venue) reads nothing from the database, and one whose stop is gone
is still re-protected within the round."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from robson_contracts import OrderRole, OrderSpec, OrderType, PositionStatus, Side, TradingMode
from robson_kit.bus import Bus
from robson_kit.testing import wait_until
from robson_position.adapters.repository import Positions
from robson_position.deps import PositionService
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.orders import position_id_for
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind, PositionState
from robson_position.domain.venueview import VenueOrder, VenueView
from robson_position.handlers.watchdog import StopWatchdog
from robson_position.main import rebuild
from sqlalchemy import event

from .factories import T0, D, accepted, filled, gate, minutes
from .fakevenue import FakeVenue
from .test_integration import status_is

N = 200
ROUNDS = 5


class _Venue:
    """Every stop the test keeps resting is live at the venue, in its position's account;
    ``view`` counts the reads of one position's own orders (the watchdog's slow path)."""

    def __init__(self) -> None:
        self.resting: dict[str, VenueOrder] = {}
        self.accounts: dict[str, str] = {}
        """Each resting order's account."""
        self.views: list[str] = []

    def rest(self, state: PositionState) -> None:
        for o in state.orders.values():
            if o.live and o.kind is OrderKind.STOP:
                spec = OrderSpec(order_id=o.order_id, symbol=state.symbol, side=Side.SELL,
                                 type=OrderType.STOP_MARKET, quantity=o.quantity, stop_price=o.price,
                                 role=OrderRole.STOP_LOSS)
                self.resting[o.order_id] = VenueOrder(spec=spec, status="NEW", filled_qty=0)
                self.accounts[o.order_id] = state.account_id

    async def live_order_ids(self, venue: TradingMode, account_ids: set[str]) -> dict[str, set[str] | None]:
        found: dict[str, set[str] | None] = {account_id: set() for account_id in account_ids}
        for order_id in self.resting:
            ids = found.get(self.accounts[order_id])
            if ids is not None:
                ids.add(order_id)
        return found

    async def view(self, state: PositionState) -> VenueView:
        self.views.append(state.position_id)
        return VenueView([o for o in self.resting.values()
                          if o.order_id.startswith(f"{state.position_id}-")])


def _protected(i: int) -> Position:
    """An OPEN position of 0.2 whose lone stop the venue has accepted."""
    p = open_position(gate(tps=(), gate_id=f"g{i}", trader=f"t{i}"), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY), T0)
    on_order_event(p, accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.2", Side.SELL,
                               OrderType.STOP_MARKET, stop="49000"), T0)
    p.outbox.clear()
    return p


async def _seed(service: PositionService, venue: _Venue) -> list[Position]:
    positions = [_protected(i) for i in range(N)]
    async with service.uow() as uow:
        repo = Positions(uow.session)
        for p in positions:
            assert await repo.add(p)
    for p in positions:
        venue.rest(p.s)
    await rebuild(service)  # as at start-up: the in-memory indexes from the table
    return positions


@contextmanager
def _statements(service: PositionService) -> Iterator[list[str]]:
    """Every statement the service's connections send while inside (asyncpg's query logger on
    each connection checked out of the pool)."""
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query)

    def checkout(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(log)

    def checkin(dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.remove_query_logger(log)

    pool = service.engine.sync_engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        yield sent
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)


async def test_round_over_200_protected_positions_sends_no_statement_to_postgres(
    service: PositionService,
) -> None:
    rt = service.deps.runtime
    venue = _Venue()
    await _seed(service, venue)
    watchdog = StopWatchdog(grace_seconds=10)
    await watchdog.check_all(service, rt, venue)  # type: ignore[arg-type]  # warm (prepared statements)
    with _statements(service) as sent:
        started = time.perf_counter()
        for _ in range(ROUNDS):
            await watchdog.check_all(service, rt, venue)  # type: ignore[arg-type]
        per_round_ms = (time.perf_counter() - started) / ROUNDS * 1000
    print(f"\nwatchdog round over {N} protected positions: {len(sent) / ROUNDS:g} statements, "
          f"{per_round_ms:.2f} ms")
    assert venue.views == []  # every stop was among the account's live orders
    assert not watchdog.missing_since
    assert sent == [], f"{len(sent) / ROUNDS:g} statements a round, e.g. {sent[:3]}"


async def test_stop_lost_among_200_positions_is_placed_again_in_the_same_round(
    service: PositionService,
) -> None:
    """The round still judges every guarded position: the one whose stop the venue lost is
    read (alone) from the database and the venue, and re-protected at once."""
    rt = service.deps.runtime
    venue = _Venue()
    positions = await _seed(service, venue)
    lost = positions[137].s.position_id
    del venue.resting[f"{lost}-0S"]
    watchdog = StopWatchdog(grace_seconds=10)
    with _statements(service) as sent:
        await watchdog.check_all(service, rt, venue)  # type: ignore[arg-type]
    assert venue.views == [lost]
    assert lost in watchdog.missing_since
    async with service.uow() as uow:
        again = await Positions(uow.session).get(lost)
    assert again is not None
    [stop] = [o for o in again.s.orders.values() if o.kind is OrderKind.STOP and o.live]
    assert stop.order_id != f"{lost}-0S" and stop.quantity == D("0.2")
    reads = [q for q in sent if q.startswith("SELECT state")]
    assert reads[0].endswith("ANY($1::varchar[])")  # the suspects, in one statement
    # the index follows the re-protection's commit: the new stop is what it now looks for
    [guarded] = [g for g in rt.guards.all() if g.position_id == lost]
    assert stop.order_id in guarded.stop_ids


async def test_index_entry_behind_the_table_costs_a_read_not_a_false_alarm(
    service: PositionService,
) -> None:
    """A stop moved in a commit whose after-commit work has not reached the index yet: the
    index still looks for the old stop, which the venue has replaced. The round reads that
    position from the table, finds its new stop working and puts the newer state in the index."""
    rt = service.deps.runtime
    venue = _Venue()
    [p, *_] = await _seed(service, venue)
    pid = p.s.position_id
    moved = p.s.orders[f"{pid}-0S"].model_copy(update={"order_id": f"{pid}-1S", "accepted": True})
    p.s.orders[f"{pid}-0S"].live = False
    p.s.orders[moved.order_id] = moved
    async with service.uow() as uow:
        await Positions(uow.session).save(p)  # committed, and the index not told
    del venue.resting[f"{pid}-0S"]
    venue.rest(p.s)
    watchdog = StopWatchdog(grace_seconds=10)
    await watchdog.check_all(service, rt, venue)  # type: ignore[arg-type]
    assert venue.views == [pid] and not watchdog.missing_since
    [guarded] = [g for g in rt.guards.all() if g.position_id == pid]
    assert f"{pid}-1S" in guarded.stop_ids and guarded.version == p.s.version
    venue.views.clear()
    await watchdog.check_all(service, rt, venue)  # type: ignore[arg-type]
    assert venue.views == []


async def test_index_equals_the_table_after_fills_moves_and_closes_through_the_bus(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    """What the watchdog guards, from memory, is what the table says it should guard, after
    entries, a take-profit fill, a stop move and a close went through the consumers and the
    API."""
    rt = service.deps.runtime
    pids = []
    for gate_id, tps in (("g1", (("51000", "0.5"), ("52000", "0.5"))), ("g2", ()), ("g3", ())):
        g = gate(gate_id=gate_id, trader=f"t-{gate_id}", tps=tps)
        pids.append(position_id_for(g.gate_decision_id))
        await bus.publish(g)
    for pid in pids:
        await wait_until(status_is(api, pid, "OPEN"), message=f"{pid} open")
    tp1, moved, closed = pids
    assert (await api.put(f"/positions/{moved}/stop-loss", json={"price": "49500"})).status_code == 200
    assert (await api.post(f"/positions/{closed}/close", json={})).status_code == 200
    await venue.move("51000", T0 + minutes(3))
    await wait_until(status_is(api, closed, "CLOSED"), message="closed")
    await wait_until(status_is(api, tp1, "PARTIALLY_CLOSED"), message="take-profit filled")

    async def same() -> bool:
        async with service.uow() as uow:
            table = {p.s.position_id: frozenset(o.order_id for o in p.s.orders.values()
                                                 if o.kind is OrderKind.STOP)
                     for p in await Positions(uow.session).active()
                     if p.s.holds and p.s.status is not PositionStatus.CLOSING and p.s.stop_loss}
        return table == {g.position_id: g.stop_ids for g in rt.guards.all()} and set(table) == {tp1, moved}

    await wait_until(same, timeout=5, message="the index is the table's guarded positions")
