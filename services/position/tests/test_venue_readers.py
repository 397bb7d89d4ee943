"""The venue readers over the fake venue's HTTP API (paper's and execution's routes): the live
order ids of the accounts asked for, for the stop watchdog (paper's in one paged read of every
account, execution's one read per account)."""

from __future__ import annotations

import httpx
import pytest
from robson_contracts import OrderRole, OrderType, Side
from robson_position.adapters import venues
from robson_position.adapters.venues import ExecutionReader, PaperReader, VenueUnavailable

from .factories import accepted, filled
from .venuebook import VenueApi, VenueBook


def _book() -> VenueBook:
    book = VenueBook()
    book.record(accepted("p1", "p1-entry", OrderRole.ENTRY, "0.2", Side.BUY, OrderType.MARKET))
    book.record(filled("p1", "p1-entry", OrderRole.ENTRY, "50000", "0.2", Side.BUY))
    book.record(accepted("p1", "p1-stop", OrderRole.STOP_LOSS, "0.2", Side.SELL,
                         OrderType.STOP_MARKET, stop="49000"))
    book.record(accepted("p3", "p3-stop", OrderRole.STOP_LOSS, "0.1", Side.SELL,
                         OrderType.STOP_MARKET, stop="47000", account="acc2"))
    book.record(accepted("p2", "p2-stop", OrderRole.STOP_LOSS, "0.1", Side.SELL,
                         OrderType.STOP_MARKET, stop="48000"))
    return book


async def test_live_order_ids_are_the_asked_accounts_live_orders_at_either_venue() -> None:
    """Not the filled entry, not another account's order. An account with none in paper's
    read of every account's live orders: none (a complete answer); an account execution does
    not know (404): left out — no answer, never "no orders" (the watchdog would place stops
    and close positions on it)."""
    api = await VenueApi(_book()).start()
    try:
        paper, execution = PaperReader(api.url, 5.0), ExecutionReader(api.url, 5.0)
        assert await paper.live_order_ids({"acc1", "acc-unknown"}) == {
            "acc1": {"p1-stop", "p2-stop"}, "acc-unknown": set()}
        assert await execution.live_order_ids({"acc1", "acc-unknown"}) == {
            "acc1": {"p1-stop", "p2-stop"}}
        await paper.close()
        await execution.close()
    finally:
        await api.stop()


async def test_paper_reads_page_after_page_until_one_is_not_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of one: three live orders, then the empty page that says there is no more."""
    monkeypatch.setattr(venues, "LIVE_PAGE", 1)
    book = _book()
    api = await VenueApi(book).start()
    try:
        reader = PaperReader(api.url, 5.0)
        assert await reader.live_order_ids({"acc1", "acc2"}) == {
            "acc1": {"p1-stop", "p2-stop"}, "acc2": {"p3-stop"}}
        assert book.reads == {"live_orders": 4}
        await reader.close()
    finally:
        await api.stop()


async def test_a_page_paper_fails_to_answer_makes_the_whole_read_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first page answered, the second not: what was read may miss any account's orders."""
    monkeypatch.setattr(venues, "LIVE_PAGE", 2)
    book = _book()
    book.live_pages_up = 1
    api = await VenueApi(book).start()
    try:
        reader = PaperReader(api.url, 5.0)
        with pytest.raises(VenueUnavailable):
            await reader.live_order_ids({"acc1"})
        await reader.close()
    finally:
        await api.stop()


def _paper_answering(status: int, body: object) -> PaperReader:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/live-orders"
        return httpx.Response(status, json=body)

    return PaperReader("http://paper", 5.0, transport=httpx.MockTransport(answer))


async def test_a_paper_without_the_live_orders_route_is_read_per_account_as_before() -> None:
    """An older paper (a deploy under way) answers 404 on the route: each account's open
    orders are read as the release before read them; an account it refuses is left out."""
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/live-orders":
            return httpx.Response(404, json={"detail": "Not Found"})
        assert request.url.path == "/orders" and request.url.params["status"] == "OPEN"
        account = request.url.params["account_id"]
        if account == "acc-hidden":
            return httpx.Response(404, json={"detail": "no such account"})
        return httpx.Response(200, json=[{"order_id": f"{account}-stop"}])

    reader = PaperReader("http://paper", 5.0, transport=httpx.MockTransport(answer))
    assert await reader.live_order_ids({"acc1", "acc2", "acc-hidden"}) == {
        "acc1": {"acc1-stop"}, "acc2": {"acc2-stop"}}
    await reader.close()


@pytest.mark.parametrize("body", [
    {"orders": [{"account_id": "acc1", "order_id": "o1", "seq": 1}], "next_after_seq": 0},
    {"orders": [{"account_id": "acc1", "order_id": "o1", "seq": 1}], "next_after_seq": 1},
    {"orders": [], "next_after_seq": 5},
    {"orders": [{"account_id": "acc1"}], "next_after_seq": None},
    ["o1"],
])
async def test_an_unexpected_live_orders_answer_is_no_answer(body: object) -> None:
    """A cursor that does not move on (it would read the same page forever), a cursor on a
    page that is not full, or a page of another shape: the venue cannot be read."""
    reader = _paper_answering(200, body)
    with pytest.raises(VenueUnavailable):
        await reader.live_order_ids({"acc1"})
    await reader.close()


async def test_an_execution_account_that_cannot_be_read_is_left_out_and_the_others_answered() -> None:
    """execution is read per account: one failing leaves that account unjudged, not all."""
    spec = {"order_id": "p9-stop", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
            "quantity": "0.1", "price": None, "stop_price": "48000", "time_in_force": "GTC",
            "role": "STOP_LOSS"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/accounts/acc-down/orders":
            return httpx.Response(503, json={"detail": "down"})
        return httpx.Response(200, json=[{"order_id": "p9-stop", "client_order_id": "cp9-stop",
                                          "symbol": "BTCUSDT", "status": "NEW", "role": "STOP_LOSS",
                                          "list_id": None, "spec": spec, "filled_qty": "0"}])

    reader = ExecutionReader("http://execution", 5.0, transport=httpx.MockTransport(answer))
    assert await reader.live_order_ids({"acc-down", "acc1"}) == {"acc1": {"p9-stop"}}
    await reader.close()
