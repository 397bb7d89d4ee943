"""position's stop watchdog against the real paper service: a round reads paper's live orders of
all accounts in one request (``GET /live-orders``, with position's own read-only service token),
and a stop paper no longer has, unknown to position (it was down while the stop was canceled
and the news is lost), is found missing and placed again at paper; the other accounts'
positions are left alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from robson_contracts import CancelOrder, TradingMode
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import asgi_client, token, wait_until
from robson_paper.deps import PaperService
from robson_paper.main import build_service as build_paper
from robson_paper.settings import PaperSettings
from robson_position.adapters.repository import Audit
from robson_position.adapters.venues import PaperReader, Venues
from robson_position.deps import PositionService
from robson_position.domain.orders import position_id_for
from robson_position.handlers.watchdog import StopWatchdog
from robson_position.main import build_service as build_position
from robson_position.settings import PositionSettings

from .conftest import T0, allow_entry, tick

ACCOUNTS = ("acc1", "acc2", "acc3")


class _Counted(httpx.AsyncBaseTransport):
    """paper's app in-process, every request position sends counted by path."""

    def __init__(self, paper: PaperService) -> None:
        self.inner = httpx.ASGITransport(app=paper.app(manage_lifecycle=False))
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return await self.inner.handle_async_request(request)


@pytest_asyncio.fixture
async def paper(bus: Bus, nats_url: str, database_url: str, schemas: tuple[str, str]
                ) -> AsyncIterator[PaperService]:
    service = build_paper(PaperSettings(nats_url=nats_url, database_url=database_url,
                                        db_schema=schemas[0], ack_wait_seconds=2, slippage_bps=0))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def _position(nats_url: str, database_url: str, schema: str, transport: _Counted) -> PositionService:
    venues = Venues({TradingMode.PAPER: PaperReader(
        "http://paper", 5.0, transport=transport, token=token("read", subject="service:position"))})
    return build_position(PositionSettings(
        nats_url=nats_url, database_url=database_url, db_schema=schema, ack_wait_seconds=2,
        outbox_poll_seconds=0.2, resync_on_start=False, stop_watchdog_interval_seconds=0), venues)


async def _open_one_per_account(bus: Bus, service: PaperService, paper: httpx.AsyncClient,
                                position: httpx.AsyncClient) -> dict[str, str]:
    """A LONG of 0.2 with a lone stop (no take-profit) in each account: position id by account."""
    await bus.publish(tick("50000", -1))
    await wait_until(lambda: _price_seen(service), message="paper has a price")
    pids = {}
    for i, account in enumerate(ACCOUNTS):
        assert (await paper.put(f"/accounts/{account}", json={"balances": {"USDT": "20000"}})).status_code == 200
        gate = allow_entry(f"g-w{i}", account=account)
        gate = gate.model_copy(update={"decision": gate.decision.model_copy(
            update={"trader_id": f"t{i}", "take_profits": ()})})
        pids[account] = position_id_for(gate.gate_decision_id)
        await bus.publish(gate)
    for account, pid in pids.items():
        await wait_until(lambda a=account, p=pid: _open_order(paper, a, p, "MARKET"), message="entry at paper")
    await bus.publish(tick("50000", 1))  # the market entries fill at the next price
    for account, pid in pids.items():
        await wait_until(lambda a=account, p=pid: _open_order(paper, a, p, "STOP_LOSS"), message="stop at paper")
        await wait_until(lambda p=pid: _stop_accepted(position, p), message="position knows its stop")
    return pids


async def _price_seen(service: PaperService) -> bool:
    ex = service.deps.exchange
    return ex is not None and ex.market("BTCUSDT").last_price is not None


async def _open_order(paper: httpx.AsyncClient, account: str, pid: str, kind: str) -> dict | None:
    r = await paper.get("/orders", params={"account_id": account, "position_id": pid, "status": "OPEN"})
    return next((o for o in r.json() if kind in (o["type"], o["role"])), None)


async def _stop_accepted(position: httpx.AsyncClient, pid: str) -> bool:
    view = (await position.get(f"/positions/{pid}")).json()
    return view.get("status") == "OPEN" and any(
        o["live"] and o["accepted"] and o["kind"] == "STOP" for o in view["orders"])


async def _reprotected(service: PositionService, pids: dict[str, str]) -> list[str]:
    async with service.uow() as uow:
        audit = Audit(uow.session)
        return [account for account, pid in pids.items()
                for r in await audit.history(pid) if r["kind"] == "REPROTECT"]


async def test_watchdog_reads_every_accounts_live_orders_from_real_paper_in_one_request(
    bus: Bus, nats_url: str, database_url: str, schemas: tuple[str, str], paper: PaperService
) -> None:
    transport = _Counted(paper)
    first = _position(nats_url, database_url, schemas[1], transport)
    await first.start()
    try:
        async with asgi_client(paper, "http://paper") as p, asgi_client(first, "http://position") as q:
            pids = await _open_one_per_account(bus, paper, p, q)
    finally:
        await first.stop()
    async with asgi_client(paper, "http://paper") as p:
        lost = await _open_order(p, "acc2", pids["acc2"], "STOP_LOSS")
        assert lost is not None
        await bus.publish(CancelOrder(occurred_at=T0, account_id="acc2", venue="PAPER",
                                      symbol="BTCUSDT", order_id=lost["order_id"]))
        await wait_until(lambda: _gone(p, pids["acc2"]), message="paper canceled acc2's stop")
    await bus.js.purge_stream(s.ORDERS.name, subject=s.ALL_ORDER_EVENTS)  # position never hears of it

    transport.paths.clear()
    second = _position(nats_url, database_url, schemas[1], transport)
    await second.start()
    try:
        watchdog = StopWatchdog(grace_seconds=10)
        await watchdog.check_all(second, second.deps.runtime, second.deps.venues)
        # one read of all accounts' live orders; acc2's position alone read on its own
        assert transport.paths["/live-orders"] == 1
        assert set(transport.paths) <= {"/live-orders", "/orders", "/fills"}
        assert transport.paths["/orders"] == 1
        assert set(watchdog.missing_since) == {pids["acc2"]}
        assert await _reprotected(second, pids) == ["acc2"]
        async with asgi_client(paper, "http://paper") as p:
            again = await wait_until(lambda: _open_order(p, "acc2", pids["acc2"], "STOP_LOSS"),
                                     message="stop placed again at paper")
            assert again["order_id"] != lost["order_id"]
        transport.paths.clear()
        await wait_until(lambda: _stop_accepted_in(second, pids["acc2"], again["order_id"]),
                         message="position heard paper accept it")
        await watchdog.check_all(second, second.deps.runtime, second.deps.venues)
        assert dict(transport.paths) == {"/live-orders": 1}  # every stop live: nothing else read
        assert not watchdog.missing_since
    finally:
        await second.stop()


async def _gone(paper: httpx.AsyncClient, pid: str) -> bool:
    return await _open_order(paper, "acc2", pid, "STOP_LOSS") is None


async def _stop_accepted_in(service: PositionService, pid: str, order_id: str) -> bool:
    async with asgi_client(service, "http://position") as q:
        view = (await q.get(f"/positions/{pid}")).json()
    return any(o["order_id"] == order_id and o["accepted"] and o["live"] for o in view["orders"])
