"""The stop watchdog over positions in many paper accounts, against paper's HTTP API (the fake
``VenueApi``) and the real embedded Postgres: a round reads every account's live orders from
paper in one paged read (``GET /live-orders``), not one read per account; a page that fails
leaves the whole round unjudged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from robson_contracts import OrderRole, OrderType, Side, TradingMode
from robson_position.adapters import venues as venue_readers
from robson_position.adapters.repository import Audit, Positions
from robson_position.adapters.venues import PaperReader, Venues
from robson_position.deps import PositionService
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind
from robson_position.handlers.watchdog import StopWatchdog
from robson_position.main import rebuild

from .factories import T0, accepted, filled, gate
from .venuebook import VenueApi, VenueBook

ACCOUNTS = 30


@pytest_asyncio.fixture
async def paper() -> AsyncIterator[tuple[VenueBook, Venues]]:
    book = VenueBook()
    api = await VenueApi(book).start()
    venues = Venues({TradingMode.PAPER: PaperReader(api.url, 5.0)})
    try:
        yield book, venues
    finally:
        await venues.close()
        await api.stop()


def _protected(i: int) -> Position:
    """An OPEN position of 0.2 in its own account ``acc<i>``, its lone stop accepted."""
    account = f"acc{i}"
    p = open_position(gate(tps=(), gate_id=f"g{i}", trader=f"t{i}", account=account), "PAPER", T0)
    pid = p.s.position_id
    on_order_event(p, filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY,
                             account=account), T0)
    on_order_event(p, _stop(pid, account), T0)
    p.outbox.clear()
    return p


def _stop(pid: str, account: str):
    return accepted(pid, f"{pid}-0S", OrderRole.STOP_LOSS, "0.2", Side.SELL, OrderType.STOP_MARKET,
                    stop="49000", account=account)


async def _seed(service: PositionService, book: VenueBook) -> list[Position]:
    """One protected position per account, stored, each with its filled entry and resting stop
    in the venue's book (accepted in account order: the last account's stop has the highest
    seq)."""
    positions = [_protected(i) for i in range(ACCOUNTS)]
    async with service.uow() as uow:
        repo = Positions(uow.session)
        for p in positions:
            assert await repo.add(p)
    for p in positions:
        pid, account = p.s.position_id, p.s.account_id
        book.record(accepted(pid, f"{pid}-0E", OrderRole.ENTRY, "0.2", Side.BUY, OrderType.MARKET,
                             account=account))
        book.record(filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY, account=account))
        book.record(_stop(pid, account))
    await rebuild(service)
    return positions


async def _live_stops(service: PositionService, pid: str) -> list[str]:
    async with service.uow() as uow:
        found = await Positions(uow.session).get(pid)
    assert found is not None
    return [o.order_id for o in found.s.orders.values() if o.kind is OrderKind.STOP and o.live]


async def _reprotections(service: PositionService, pids: list[str]) -> list[str]:
    async with service.uow() as uow:
        audit = Audit(uow.session)
        return [pid for pid in pids for r in await audit.history(pid) if r["kind"] == "REPROTECT"]


async def test_watchdog_round_over_many_paper_accounts_reads_paper_once(
    service: PositionService, paper: tuple[VenueBook, Venues]
) -> None:
    """30 accounts, one position each: the round reads paper's live orders once (it read each
    account's, 30 requests), and only the position whose stop paper lost has its own orders
    and fills read; that one is re-protected within the round."""
    book, venues = paper
    positions = await _seed(service, book)
    lost = positions[17].s.position_id
    book.forget(f"{lost}-0S")
    watchdog = StopWatchdog(grace_seconds=10)
    await watchdog.check_all(service, service.deps.runtime, venues)
    assert dict(book.reads) == {"live_orders": 1, "position_orders": 1, "fills": 1}
    assert set(watchdog.missing_since) == {lost}
    [again] = await _live_stops(service, lost)
    assert again != f"{lost}-0S"
    assert await _reprotections(service, [p.s.position_id for p in positions]) == [lost]


async def test_live_orders_past_one_page_are_all_read(
    service: PositionService, paper: tuple[VenueBook, Venues], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 29: the last account's stop, the newest order, is alone on the second page;
    found live there, its position is no suspect (nothing of it is read on its own)."""
    monkeypatch.setattr(venue_readers, "LIVE_PAGE", ACCOUNTS - 1)
    book, venues = paper
    await _seed(service, book)
    watchdog = StopWatchdog(grace_seconds=10)
    await watchdog.check_all(service, service.deps.runtime, venues)
    assert dict(book.reads) == {"live_orders": 2}
    assert not watchdog.missing_since


async def test_a_failed_later_page_leaves_the_round_unjudged(
    service: PositionService, paper: tuple[VenueBook, Venues], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 7 and the third fails: what the first two said (a stop missing on the first) is
    no answer; nothing is judged, re-protected or closed. The next round, paper answering
    again, re-protects it."""
    monkeypatch.setattr(venue_readers, "LIVE_PAGE", 7)
    book, venues = paper
    positions = await _seed(service, book)
    lost = positions[3].s.position_id
    book.forget(f"{lost}-0S")
    book.live_pages_up = 2
    watchdog = StopWatchdog(grace_seconds=10)
    await watchdog.check_all(service, service.deps.runtime, venues)
    assert dict(book.reads) == {"live_orders": 3}
    assert not watchdog.missing_since
    assert await _live_stops(service, lost) == [f"{lost}-0S"]
    assert await _reprotections(service, [p.s.position_id for p in positions]) == []
    book.live_pages_up = None
    await watchdog.check_all(service, service.deps.runtime, venues)
    assert set(watchdog.missing_since) == {lost}
    assert await _reprotections(service, [p.s.position_id for p in positions]) == [lost]
