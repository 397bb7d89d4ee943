"""Review of ``GET /live-orders`` (real NATS + Postgres): a scoped token paging through every
account's live orders, orders replaced while a reader pages, and cursor bounds."""

from __future__ import annotations

from typing import Any

import httpx
from robson_contracts import ReplaceOrder
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, auth_headers, wait_until
from robson_paper.deps import PaperService

from .bus_helpers import D, at, order, tick, waiter
from .test_live_orders_api import _client, _price_seen


async def _interleaved(bus: Bus, paper: PaperService) -> None:
    """Resting orders of acc1, acc2 and acc3 interleaved in seq order:
    a1 b1 a2 c1 b2 a3 b3 (a: acc1, b: acc2, c: acc3)."""
    await bus.publish(tick("100", 1))
    await wait_until(lambda: _price_seen(paper), message="first price")
    accounts = {"a": "acc1", "b": "acc2", "c": "acc3"}
    for i, oid in enumerate(("a1", "b1", "a2", "c1", "b2", "a3", "b3")):
        await bus.publish(order(oid, "BUY", "LIMIT", "0.1", 2, price=str(90 - i),
                                account=accounts[oid[0]]))
    await wait_until(waiter(bus, "OrderAccepted", "b3"), message="b3 accepted")


async def _all_pages(client: httpx.AsyncClient, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every page from the start, and how many were read."""
    rows: list[dict[str, Any]] = []
    after, pages = 0, 0
    while True:
        response = await client.get("/live-orders", params={"after_seq": after, "limit": limit})
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        rows += page["orders"]
        if page["next_after_seq"] is None:
            return rows, pages
        assert page["next_after_seq"] > after
        after = page["next_after_seq"]
        assert pages < 100


async def test_scoped_token_paging_live_orders_never_sees_another_accounts_order(
    bus: Bus, paper: PaperService
) -> None:
    """Pages of one and of two, a token of one account and one of two: each reader sees all of
    its accounts' live orders and nothing of another account's, on any page, and the cursor
    never reveals how many foreign orders lie between its own (pages are full of its own)."""
    await _interleaved(bus, paper)
    for accounts, expected in ((["acc2"], ["b1", "b2", "b3"]),
                               (["acc2", "acc3"], ["b1", "c1", "b2", "b3"])):
        headers = auth_headers("read", accounts=accounts, subject="scoped-reader")
        async with _client(paper, headers) as client:
            for limit in (1, 2, 5000):
                rows, pages = await _all_pages(client, limit)
                assert [r["order_id"] for r in rows] == expected, (accounts, limit)
                assert {r["account_id"] for r in rows} <= set(accounts)
                # full pages of the caller's own orders, then the one that is not full
                assert pages == len(expected) // limit + 1, (accounts, limit, pages)
    async with _client(paper, auth_headers("read", accounts=["acc-none"], subject="x")) as client:
        assert (await client.get("/live-orders")).json() == {"orders": [], "next_after_seq": None}


async def test_orders_replaced_while_a_reader_pages_are_found_on_a_later_page(
    bus: Bus, paper: PaperService
) -> None:
    """A replace gives the new order the next seq (the old one keeps its own and is no longer
    live): one already read and one not yet read are both replaced between two pages, and the
    rest of the read finds both new ones; no order live at the end of the read is missed."""
    await _interleaved(bus, paper)
    async with _client(paper, ADMIN_HEADERS) as client:
        first = (await client.get("/live-orders", params={"limit": 2})).json()
        assert [r["order_id"] for r in first["orders"]] == ["a1", "b1"]
        for old, new in (("a1", "a1r"), ("a3", "a3r")):  # a1 read already, a3 not yet
            await bus.publish(ReplaceOrder(occurred_at=at(3), account_id="acc1", venue="PAPER",
                                           symbol="BTCUSDT", order_id=old, new_order_id=new,
                                           price=D("70")))
            await wait_until(waiter(bus, "OrderReplaced", old), message=f"{old} replaced")
        rest, after = [], first["next_after_seq"]
        while after is not None:
            page = (await client.get("/live-orders", params={"limit": 2, "after_seq": after})).json()
            rest += page["orders"]
            after = page["next_after_seq"]
        seen = {r["order_id"] for r in first["orders"] + rest}
        live_now = {o["order_id"] for o in (await client.get(
            "/orders", params={"status": "OPEN", "limit": 1000})).json()}
        assert live_now == {"a1r", "b1", "a2", "c1", "b2", "a3r", "b3"}
        assert live_now <= seen
        assert "a3" not in seen  # replaced before its page came: not reported live
        by_id = {r["order_id"]: r["seq"] for r in first["orders"] + rest}
        assert by_id["a1r"] > by_id["b3"] and by_id["a3r"] > by_id["a1r"]


async def test_live_orders_cursor_beyond_the_seq_range_is_refused_not_a_server_error(
    paper: PaperService,
) -> None:
    """``after_seq`` has a floor (0) but no ceiling: a value past BIGINT reaches Postgres."""
    async with _client(paper, ADMIN_HEADERS) as client:
        ok = await client.get("/live-orders", params={"after_seq": 2**63 - 1})
        assert ok.status_code == 200 and ok.json() == {"orders": [], "next_after_seq": None}
        response = await client.get("/live-orders", params={"after_seq": 2**63})
        assert response.status_code == 422, (response.status_code, response.text[:300])
