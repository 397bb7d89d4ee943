"""The venue readers over the fake venue's HTTP API (paper's and execution's routes): an
account's live orders in one read, for the stop watchdog."""

from __future__ import annotations

import pytest
from robson_contracts import OrderRole, OrderType, Side
from robson_position.adapters import venues
from robson_position.adapters.venues import ExecutionReader, PaperReader

from .factories import accepted, filled
from .venuebook import VenueApi, VenueBook


def _book() -> VenueBook:
    book = VenueBook()
    book.record(accepted("p1", "p1-entry", OrderRole.ENTRY, "0.2", Side.BUY, OrderType.MARKET))
    book.record(filled("p1", "p1-entry", OrderRole.ENTRY, "50000", "0.2", Side.BUY))
    book.record(accepted("p1", "p1-stop", OrderRole.STOP_LOSS, "0.2", Side.SELL,
                         OrderType.STOP_MARKET, stop="49000"))
    book.record(accepted("p2", "p2-stop", OrderRole.STOP_LOSS, "0.1", Side.SELL,
                         OrderType.STOP_MARKET, stop="48000"))
    return book


async def test_working_orders_are_the_accounts_live_orders_at_either_venue() -> None:
    api = await VenueApi(_book()).start()
    try:
        for reader in (PaperReader(api.url, 5.0), ExecutionReader(api.url, 5.0)):
            live = await reader.working_orders("acc1")
            assert live is not None
            assert sorted(o.order_id for o in live) == ["p1-stop", "p2-stop"]  # not the filled entry
            assert await reader.working_orders("acc-unknown") == []
            await reader.close()
    finally:
        await api.stop()


async def test_a_full_page_of_working_orders_is_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paper answers a page: a full one may leave orders out, so the watchdog must read each
    position instead."""
    monkeypatch.setattr(venues, "PAGE", 2)
    api = await VenueApi(_book()).start()
    try:
        reader = PaperReader(api.url, 5.0)
        assert await reader.working_orders("acc1") is None
        await reader.close()
    finally:
        await api.stop()
