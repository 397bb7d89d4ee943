"""``GET /live-orders`` on real NATS + Postgres: every account's live orders as (account, order,
seq), in seq order, a page at a time after a cursor: what position's stop watchdog reads in one
request per round instead of one per account."""

from __future__ import annotations

from typing import Any

import httpx
from robson_contracts import CancelOrder
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, auth_headers, wait_until
from robson_paper.adapters import queries
from robson_paper.deps import PaperService

from .bus_helpers import at, order, tick, waiter


def _client(service: PaperService, headers: dict[str, str] = ADMIN_HEADERS) -> httpx.AsyncClient:
    app = service.app(manage_lifecycle=False)
    return httpx.AsyncClient(headers=headers, transport=httpx.ASGITransport(app=app),
                             base_url="http://t")


async def _book(bus: Bus, paper: PaperService) -> None:
    """acc1: a1, a2 resting, a3 canceled; acc2: b1 resting, b2 filled."""
    await bus.publish(tick("100", 1))
    await wait_until(lambda: _price_seen(paper), message="first price")
    await bus.publish(order("a1", "BUY", "LIMIT", "0.1", 2, price="90", account="acc1"))
    await bus.publish(order("b1", "BUY", "LIMIT", "0.1", 2, price="89", account="acc2"))
    await bus.publish(order("a2", "BUY", "LIMIT", "0.1", 2, price="88", account="acc1"))
    await bus.publish(order("b2", "BUY", "MARKET", "0.1", 2, account="acc2"))
    await bus.publish(order("a3", "BUY", "LIMIT", "0.1", 2, price="87", account="acc1"))
    await wait_until(waiter(bus, "OrderAccepted", "a3"), message="a3 accepted")
    await bus.publish(CancelOrder(occurred_at=at(3), account_id="acc1", venue="PAPER",
                                  symbol="BTCUSDT", order_id="a3"))
    await bus.publish(tick("100", 4))
    await wait_until(waiter(bus, "OrderCanceled", "a3"), message="a3 canceled")
    await wait_until(waiter(bus, "OrderFilled", "b2"), message="b2 filled")


async def _price_seen(service: PaperService) -> bool:
    ex = service.deps.exchange
    return ex is not None and ex.market("BTCUSDT").last_price is not None


async def _live(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/live-orders", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_live_orders_are_every_accounts_live_orders_in_seq_order(
    bus: Bus, paper: PaperService
) -> None:
    await _book(bus, paper)
    async with _client(paper) as client:
        opened = (await client.get("/orders", params={"status": "OPEN"})).json()
        expected = [{"account_id": o["account_id"], "order_id": o["order_id"], "seq": o["seq"]}
                    for o in opened]
        assert sorted(o["order_id"] for o in expected) == ["a1", "a2", "b1"]
        page = await _live(client)
        assert page == {"orders": expected, "next_after_seq": None}  # not a full page: the end
        seqs = [o["seq"] for o in page["orders"]]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_live_orders_page_after_the_cursor_until_a_page_is_not_full(
    bus: Bus, paper: PaperService
) -> None:
    await _book(bus, paper)
    async with _client(paper) as client:
        everything = (await _live(client))["orders"]
        first = await _live(client, limit=2)
        assert first == {"orders": everything[:2], "next_after_seq": everything[1]["seq"]}
        second = await _live(client, limit=2, after_seq=first["next_after_seq"])
        assert second == {"orders": everything[2:], "next_after_seq": None}
        exact = await _live(client, limit=3)
        assert exact["next_after_seq"] == everything[2]["seq"]  # full: there may be more
        assert await _live(client, limit=3, after_seq=exact["next_after_seq"]) == {
            "orders": [], "next_after_seq": None}
        assert (await _live(client, after_seq=0))["orders"] == everything


async def test_a_token_scoped_to_one_account_sees_only_its_live_orders(
    bus: Bus, paper: PaperService
) -> None:
    await _book(bus, paper)
    async with _client(paper, auth_headers("read", accounts=["acc2"], subject="acc2-reader")) as client:
        assert [o["order_id"] for o in (await _live(client))["orders"]] == ["b1"]
        page = await _live(client, limit=1)
        assert [o["order_id"] for o in page["orders"]] == ["b1"]  # acc1's earlier a1 not counted
    async with _client(paper, {}) as anonymous:
        assert (await anonymous.get("/live-orders")).status_code == 401


async def test_bad_live_orders_query_values_are_refused_naming_the_field(paper: PaperService) -> None:
    async with _client(paper) as client:
        for params, field in (({"limit": 0}, "limit"), ({"limit": 10001}, "limit"),
                              ({"after_seq": -1}, "after_seq"), ({"after_seq": "x"}, "after_seq")):
            response = await client.get("/live-orders", params=params)
            assert response.status_code == 422, (params, response.text)
            assert [e["field"] for e in response.json()["detail"]] == [f"query.{field}"], params
        assert (await client.get("/live-orders", params={"limit": 10000})).status_code == 200


async def test_rows_answered_by_the_api_are_keyed_by_plain_str_not_column_names(
    bus: Bus, paper: PaperService
) -> None:
    """SQLAlchemy names a row's columns with ``quoted_name``, a str subclass pydantic encodes
    ~70× slower; the watchdog's page and the fills list hand FastAPI plain keys."""
    await _book(bus, paper)
    async with paper.uow() as uow:
        live = await queries.live_orders(uow.session, 0, 10, None)
        fills = await queries.fills(uow.session, None, None, None, 10)
    assert [r["order_id"] for r in live] == ["a1", "b1", "a2"] and len(fills) == 1
    assert {type(key) for row in live + fills for key in row} == {str}
