"""position + the real paper venue: allowed entry → TP1 fills half → stop to breakeven → the rest
stops out at breakeven. Realized P&L matches the hand computation to the cent (paper's 0.1%
fees included, slippage 0) and paper's balances agree. Then the same with position SIGKILLed
while paper fills and the venue's events are lost from the stream: restart re-syncs over
paper's HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest_asyncio
from robson_contracts import OrderRejected, PositionError
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, asgi_client, read_stream, wait_until
from robson_paper.main import build_service as build_paper
from robson_paper.settings import PaperSettings
from robson_position.domain.orders import position_id_for
from robson_position.main import build_service as build_position
from robson_position.settings import PositionSettings

from .conftest import D, allow_entry, candle, paper_env, position_env, tick

# Hand computation, long 0.2 BTC, fees 0.1% of notional in USDT:
#   entry  0.2 @ 50000 = 10000, fee 10
#   TP1    0.1 @ 51000: gross +100, exit fee 5.1, entry-fee share 5  → +89.9
#   stop   0.1 @ 50000 (breakeven): gross 0, exit fee 5, entry-fee share 5 → −10
TP1_PNL, TOTAL_PNL = D("89.9"), D("79.9")
START_USDT, END_USDT = D("20000"), D("20079.9")  # 20000 − 10010 + 5094.9 + 4995


@pytest_asyncio.fixture
async def stack(bus: Bus, nats_url: str, database_url: str, schemas: tuple[str, str]
                ) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """paper and position in-process (paper first: its market consumer starts at NEW)."""
    paper = build_paper(PaperSettings(nats_url=nats_url, database_url=database_url, db_schema=schemas[0],
                                      ack_wait_seconds=2, slippage_bps=0))
    position = build_position(PositionSettings(
        nats_url=nats_url, database_url=database_url, db_schema=schemas[1], ack_wait_seconds=2,
        outbox_poll_seconds=0.2, resync_on_start=False))
    await paper.start()
    await position.start()
    try:
        async with asgi_client(paper, "http://paper") as p, asgi_client(position, "http://position") as q:
            yield p, q
    finally:
        await position.stop()
        await paper.stop()


async def test_allowed_entry_tp1_breakeven_stop_on_real_paper_realizes_hand_computed_pnl(
    bus: Bus, stack: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    paper, position = stack
    pid = await _open(bus, paper, position, "g-paper")
    await _tp1_then_breakeven_then_stop(bus, paper, position, pid)


async def test_position_killed_while_paper_fills_and_events_lost_resyncs_on_restart(
    bus: Bus, nats_url: str, database_url: str, schemas: tuple[str, str], tmp_path
) -> None:
    paper_proc = ServiceProcess("robson_paper", paper_env(nats_url, database_url, schemas[0]),
                                "ROBSON_PAPER_HTTP_PORT", tmp_path / "paper.log").start()
    env = position_env(nats_url, database_url, schemas[1], paper_proc.url)
    procs = [paper_proc, ServiceProcess("robson_position", env, "ROBSON_POSITION_HTTP_PORT",
                                        tmp_path / "position-1.log").start()]
    try:
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=paper_proc.url, timeout=5) as paper:
            async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=procs[1].url, timeout=5) as position:
                pid = await _open(bus, paper, position, "g-kill")
            procs[1].kill()
            await bus.publish(tick("51000", 3))  # TP1 fills on paper while position is down
            await wait_until(lambda: _paper_order(paper, pid, "0T0", "FILLED"), message="TP1 filled on paper")
            await bus.js.purge_stream(s.ORDERS.name, subject=s.ALL_ORDER_EVENTS)  # and the news is lost
            procs.append(ServiceProcess("robson_position", env, "ROBSON_POSITION_HTTP_PORT",
                                        tmp_path / "position-2.log").start())
            async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=procs[2].url, timeout=5) as position:
                view = await wait_until(_status(position, pid, "PARTIALLY_CLOSED"), timeout=30,
                                        message="TP1 re-synced from paper")
                assert D(view["realized_pnl"]) == TP1_PNL
                report = (await position.get("/resync/last")).json()
                assert report["complete"]
                found = {(f["kind"], f["order_id"]) for f in report["findings"]}
                assert {("MISSED_FILL", f"{pid}-0T0"), ("ORDER_CANCELED", f"{pid}-0S0")} <= found
                assert await _live_ids(position, pid) == await _paper_open_ids(paper, pid)
                await _breakeven_then_stop(bus, paper, position, pid)
    finally:
        for proc in procs:
            proc.stop()


async def test_entry_filled_through_its_stop_is_closed_at_market_at_once_not_left_unprotected(
    bus: Bus, stack: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    """The market entry waits for the next price, and the price gaps from 50000 to 48500,
    below the 49000 stop: the entry fills there and paper refuses both take-profit OCOs, as
    Binance does (PRICE_RELATIONSHIP: the stop would trigger at once). Before, paper placed
    them (the stops filling at the next price, which a live venue never does), and position
    ignored a refusal for the price: it held 0.2 BTC with no stop at all until the watchdog's
    grace passed. Now position closes at market at once, a stop-out."""
    paper, position = stack
    r = await paper.put("/accounts/acc1", json={"balances": {"USDT": str(START_USDT)}})
    assert r.status_code == 200, r.text
    await _market(bus, tick("50000", -1))
    gate = allow_entry("g-through")
    pid = position_id_for(gate.gate_decision_id)
    await bus.publish(gate)
    await wait_until(lambda: _paper_order(paper, pid, "0E", "NEW"), message="entry accepted by paper")
    await _market(bus, tick("48500", 1))  # the entry fills at 48500, through its stop

    refused = await wait_until(lambda: _refused(bus, pid), message="children refused")
    assert refused == {f"{pid}-0{leg}": "PRICE_RELATIONSHIP" for leg in ("T0", "S0", "T1", "S1")}
    # at once: no price moved, no watchdog; the market exit waits at paper for the next price
    await wait_until(_status(position, pid, "CLOSING"), message="closing at market at once")
    [exit_order] = await wait_until(lambda: _paper_exits(paper, pid), message="exit at paper")
    assert (exit_order["type"], D(exit_order["quantity"])) == ("MARKET", D("0.2"))
    await _market(bus, tick("48400", 2))
    view = await wait_until(_status(position, pid, "CLOSED"), message="stopped out")
    assert view["exit_reason"] == "STOP_LOSS" and D(view["exit_price"]) == D("48400")
    audit = (await position.get(f"/positions/{pid}/modifications")).json()
    assert [(a["kind"], a["triggered_by"], a["verdict"]) for a in audit] == [
        ("CLOSE", "RULE_ENGINE", "APPLIED")]
    assert "through the market" in audit[0]["reason"]
    errors = [m.reason_code for m in await read_stream(bus, s.ALL_POSITION_EVENTS)
              if isinstance(m, PositionError)]
    assert "STOP_THROUGH_MARKET" in errors


# --- the scenario ----------------------------------------------------------------------------


async def _open(bus: Bus, paper: httpx.AsyncClient, position: httpx.AsyncClient, gate_id: str) -> str:
    r = await paper.put("/accounts/acc1", json={"balances": {"USDT": str(START_USDT)}})
    assert r.status_code == 200, r.text
    r = await position.put("/traders/t1/policy", json={"breakeven_trigger_pct": "2"})
    assert r.status_code == 200, r.text
    await _market(bus, tick("50000", -1))  # paper needs a price before a MARKET entry
    gate = allow_entry(gate_id)
    pid = position_id_for(gate.gate_decision_id)
    await bus.publish(gate)
    await wait_until(lambda: _paper_order(paper, pid, "0E", "NEW"), message="entry accepted by paper")
    await _market(bus, tick("50000", 1))  # a market order fills at the next price
    view = await wait_until(_status(position, pid, "OPEN", accepted=("0T0", "0S0", "0T1", "0S1")),
                            message="position open, both OCOs accepted")
    assert D(view["entry_price"]) == D("50000") and D(view["fees"]) == D("10")
    return pid


async def _tp1_then_breakeven_then_stop(bus: Bus, paper: httpx.AsyncClient, position: httpx.AsyncClient,
                                        pid: str) -> None:
    await _market(bus, tick("51000", 3))
    view = await wait_until(_status(position, pid, "PARTIALLY_CLOSED"), message="TP1 filled half")
    assert D(view["remaining_quantity"]) == D("0.1") and D(view["realized_pnl"]) == TP1_PNL
    await _breakeven_then_stop(bus, paper, position, pid)


async def _breakeven_then_stop(bus: Bus, paper: httpx.AsyncClient, position: httpx.AsyncClient,
                               pid: str) -> None:
    # A tick at the candle's close first, so paper skips the candle's path (already covered).
    await _market(bus, tick("50900", 5))
    await bus.publish(candle(0, "50000", "51000", "50000", "50900"))  # +2% high: breakeven rule
    await wait_until(lambda: _paper_stop_at(paper, pid, D("50000")), message="stop at breakeven on paper")
    await _market(bus, tick("50000", 7))
    view = await wait_until(_status(position, pid, "CLOSED"), message="rest stopped out")
    assert D(view["realized_pnl"]) == TOTAL_PNL
    assert [D(c["realized_pnl"]) for c in view["closes"]] == [TP1_PNL, TOTAL_PNL - TP1_PNL]
    assert view["exit_reason"] == "STOP_LOSS"
    balances = await wait_until(lambda: _paper_balances(paper, lambda b: D(b["USDT"]["locked"]) == 0),
                                message="paper holds released")
    assert D(balances["USDT"]["free"]) == END_USDT == START_USDT + TOTAL_PNL
    assert D(balances.get("BTC", {"free": "0"})["free"]) == 0


# --- helpers ----------------------------------------------------------------------------------


async def _market(bus: Bus, message: Any) -> None:
    """Publish a market message and wait until paper has processed it."""
    await bus.publish(message)
    await wait_until(lambda: _consumed(bus), message=f"paper processed {message.message_type}")


async def _consumed(bus: Bus) -> bool:
    info = await bus.js.consumer_info(s.MARKET.name, "paper_market")
    return info.num_pending == 0 and info.num_ack_pending == 0


def _status(position: httpx.AsyncClient, pid: str, status: str, accepted: tuple[str, ...] = ()):
    async def check() -> dict | None:
        r = await position.get(f"/positions/{pid}")
        if r.status_code != 200 or r.json()["status"] != status:
            return None
        view = r.json()
        done = {o["order_id"].rsplit("-", 1)[1] for o in view["orders"] if o["accepted"]}
        return view if set(accepted) <= done else None
    return check


async def _paper_orders(paper: httpx.AsyncClient, pid: str, **params: str) -> list[dict]:
    r = await paper.get("/orders", params={"account_id": "acc1", "position_id": pid, **params})
    assert r.status_code == 200, r.text
    return r.json()


async def _paper_order(paper: httpx.AsyncClient, pid: str, suffix: str, status: str) -> bool:
    return any(o["order_id"] == f"{pid}-{suffix}" and o["status"] == status
               for o in await _paper_orders(paper, pid))


async def _refused(bus: Bus, pid: str) -> dict[str, str] | None:
    """The first refusal of each order (position's cancel of a child it had not heard of yet
    is refused UNKNOWN_ORDER after)."""
    refused: dict[str, str] = {}
    for m in await read_stream(bus, s.ALL_ORDER_EVENTS):
        if isinstance(m, OrderRejected) and m.position_id == pid:
            refused.setdefault(m.order_id, m.reason_code)
    return refused if len(refused) == 4 else None  # both legs of both take-profit OCOs


async def _paper_exits(paper: httpx.AsyncClient, pid: str) -> list[dict] | None:
    return [o for o in await _paper_orders(paper, pid, status="OPEN") if o["role"] == "EXIT"] or None


async def _paper_stop_at(paper: httpx.AsyncClient, pid: str, price: D) -> bool:
    return any(o["role"] == "STOP_LOSS" and D(o["stop_price"]) == price
               for o in await _paper_orders(paper, pid, status="OPEN"))


async def _paper_open_ids(paper: httpx.AsyncClient, pid: str) -> set[str]:
    return {o["order_id"] for o in await _paper_orders(paper, pid, status="OPEN")}


async def _live_ids(position: httpx.AsyncClient, pid: str) -> set[str]:
    view = (await position.get(f"/positions/{pid}")).json()
    return {o["order_id"] for o in view["orders"] if o["live"]}


async def _paper_balances(paper: httpx.AsyncClient, cond: Callable[[dict], bool]) -> dict | None:
    r = await paper.get("/accounts/acc1/balances")
    balances = {b["asset"]: b for b in r.json()} if r.status_code == 200 else {}
    return balances if "USDT" in balances and cond(balances) else None
