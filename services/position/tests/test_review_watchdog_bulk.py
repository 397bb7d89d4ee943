"""Review of the stop watchdog's bulk read of paper's live orders (``GET /live-orders``): odd
answers from paper, an older paper without the route, and an account with no live order at all.
Real Postgres; paper is the fake ``VenueBook`` (over ASGI or a mock transport for odd answers)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from robson_contracts import PositionStatus, TradingMode
from robson_position.adapters import venues
from robson_position.adapters.repository import Positions
from robson_position.adapters.venues import PaperReader, Venues, VenueUnavailable
from robson_position.deps import PositionService
from robson_position.handlers.watchdog import StopWatchdog

from .test_watchdog_accounts import ACCOUNTS, _live_stops, _reprotections, _seed
from .venuebook import VenueBook, _app


def _old_paper(book: VenueBook) -> Venues:
    """A paper of the release before: the same routes, without ``GET /live-orders`` (404)."""
    app = _app(book)
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/live-orders"]
    return Venues({TradingMode.PAPER: PaperReader("http://paper", 5.0,
                                                  transport=httpx.ASGITransport(app=app))})


def _bulk_paper(book: VenueBook) -> Venues:
    return Venues({TradingMode.PAPER: PaperReader("http://paper", 5.0,
                                                  transport=httpx.ASGITransport(app=_app(book)))})


# --- odd answers from paper ---------------------------------------------------------------


async def test_paper_cursor_on_short_pages_is_not_followed_without_bound() -> None:
    requests = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal requests
        requests += 1
        after = int(request.url.params["after_seq"])
        if requests >= 500:  # the test's own stop: the reader never stops by itself
            return httpx.Response(200, json={"orders": [], "next_after_seq": None})
        return httpx.Response(200, json={"orders": [], "next_after_seq": after + 1})

    reader = PaperReader("http://paper", 5.0, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(VenueUnavailable):
            await reader.live_order_ids({"acc1"})
        assert requests <= 2
    finally:
        await reader.close()


async def test_paper_rows_of_accounts_not_asked_and_duplicates_change_no_asked_accounts_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A (scoped or buggy) answer naming accounts position did not ask about, or the same row
    twice, then a last page: each asked account gets exactly its own
    ids, an asked account with none an empty set, and the unasked ones are not in the answer."""
    def answer(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after_seq"])
        if after == 0:  # a full page (of 3), its cursor its last row's seq
            return httpx.Response(200, json={"orders": [
                {"account_id": "acc1", "order_id": "s1", "seq": 1},
                {"account_id": "acc1", "order_id": "s1", "seq": 1},
                {"account_id": "acc-other", "order_id": "x1", "seq": 2}], "next_after_seq": 2})
        return httpx.Response(200, json={"orders": [
            {"account_id": "acc1", "order_id": "s2", "seq": 3}], "next_after_seq": None})

    monkeypatch.setattr(venues, "LIVE_PAGE", 3)
    reader = PaperReader("http://paper", 5.0, transport=httpx.MockTransport(answer))
    try:
        assert await reader.live_order_ids({"acc1", "acc2"}) == {"acc1": {"s1", "s2"}, "acc2": set()}
    finally:
        await reader.close()


# --- an older paper without the route ----------------------------------------------------


async def test_old_paper_without_live_orders_still_judges_a_live_stop_protected_and_a_lost_one_missing(
    service: PositionService,
) -> None:
    """Mid-deploy (paper answers 404 on ``/live-orders``): a position whose stop rests is left
    alone, the one whose stop paper lost is re-protected, nothing is closed."""
    book = VenueBook()
    positions = await _seed(service, book)
    lost = positions[5].s.position_id
    book.forget(f"{lost}-0S")
    venues = _old_paper(book)
    try:
        watchdog = StopWatchdog(grace_seconds=10)
        await watchdog.check_all(service, service.deps.runtime, venues)
        assert set(watchdog.missing_since) == {lost}
        assert await _reprotections(service, [p.s.position_id for p in positions]) == [lost]
    finally:
        await venues.close()


async def test_old_paper_without_live_orders_costs_at_most_a_read_per_account_a_round(
    service: PositionService,
) -> None:
    book = VenueBook()
    await _seed(service, book)
    venues = _old_paper(book)
    try:
        await StopWatchdog(grace_seconds=10).check_all(service, service.deps.runtime, venues)
        assert sum(book.reads.values()) <= ACCOUNTS + 1, dict(book.reads)
    finally:
        await venues.close()


# --- an account with no live order at all -------------------------------------------------


async def test_account_with_no_live_order_at_all_is_reprotected_once_and_closed_only_after_the_grace(
    service: PositionService,
) -> None:
    """acc4's only live order was its stop; paper lost it (the account now has none: an empty,
    complete answer). Round 1 places the stop again (paper never takes it: no bus here); a round
    inside the grace does nothing more; the first round after it closes the position. The other
    accounts' positions are untouched throughout."""
    book = VenueBook()
    positions = await _seed(service, book)
    lost = positions[4].s.position_id
    book.forget(f"{lost}-0S")
    others = [p.s.position_id for p in positions if p.s.position_id != lost]
    venues = _bulk_paper(book)
    try:
        assert (await venues.live_order_ids(TradingMode.PAPER, {"acc4"})) == {"acc4": set()}
        watchdog = StopWatchdog(grace_seconds=0.5)
        rt = service.deps.runtime
        await watchdog.check_all(service, rt, venues)
        assert await _reprotections(service, [lost]) == [lost]
        await watchdog.check_all(service, rt, venues)  # inside the grace
        async with service.uow() as uow:
            inside = await Positions(uow.session).get(lost)
        assert inside is not None and inside.s.status is PositionStatus.OPEN
        assert await _reprotections(service, [lost]) == [lost]  # not placed again and again
        await asyncio.sleep(0.6)
        await watchdog.check_all(service, rt, venues)
        async with service.uow() as uow:
            after = await Positions(uow.session).get(lost)
            untouched = await Positions(uow.session).get_many(others)
        assert after is not None and after.s.status is not PositionStatus.OPEN, after.s.status
        assert all(p.s.status is PositionStatus.OPEN for p in untouched)
        assert await _reprotections(service, others) == []
        for pid in others[:3]:
            assert await _live_stops(service, pid) == [f"{pid}-0S"]
    finally:
        await venues.close()
