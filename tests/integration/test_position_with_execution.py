"""position + the real execution service + execution's fake Binance (real HTTP + WebSocket, its
filters, balances and matching), on real NATS + Postgres: a LIVE position whose stop is moved.

execution replaces an order by cancelling the old one first and placing the amended one once
Binance confirms the cancel. When Binance refuses the amended stop, the old stop is gone
already: the position held with no stop at Binance, and position did nothing until its stop
watchdog noticed (every 2 s here it is set to 600 s, so only the refusal's answer counts).
When the old stop filled before its cancel, execution refuses the replacement as
``REPLACE_TARGET_NOT_OPEN`` after publishing the fill: nothing may be placed again."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from robson_contracts import (
    GateDecision,
    OrderRejected,
    PositionClosed,
    PositionError,
    TradeDecision,
)
from robson_contracts import subjects as s
from robson_execution.main import build_service as build_execution
from robson_execution.settings import ExecutionSettings
from robson_kit.bus import Bus
from robson_kit.testing import asgi_client, drop_schema, read_stream, unique_schema, wait_until
from robson_position.domain.orders import position_id_for
from robson_position.main import build_service as build_position
from robson_position.settings import PositionSettings

from .conftest import T0, D, tick

MASTER = "k1:" + base64.b64encode(b"0" * 32).decode()
CONFIRM = "I UNDERSTAND THIS TRADES REAL ORDERS"
ACCOUNT = "acc1"


def _fakes() -> Any:
    """execution's fake exchange lives in its test code (services/execution/tests/fakes)."""
    name = "robson_execution_fakes"
    if name not in sys.modules:
        root = Path(__file__).parents[2] / "services/execution/tests/fakes"
        spec = importlib.util.spec_from_file_location(
            name, root / "__init__.py", submodule_search_locations=[str(root)])
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[Any]:
    exchange = await _fakes().FakeBinance().start()  # BTCUSDT at 60000
    try:
        yield exchange
    finally:
        await exchange.stop()


@pytest_asyncio.fixture
async def schemas(database_url: str) -> AsyncIterator[tuple[str, str]]:
    """Fresh (execution, position) schemas."""
    names = (unique_schema("execution"), unique_schema("position"))
    try:
        yield names
    finally:
        for name in names:
            await drop_schema(database_url, name)


async def _stack(nats_url: str, database_url: str, schemas: tuple[str, str], fake: Any,
                 **execution: Any) -> tuple[Any, Any]:
    ex = build_execution(ExecutionSettings(**{
        "nats_url": nats_url, "database_url": database_url, "db_schema": schemas[0],
        "master_keys": MASTER, "binance_rest_url": fake.rest_url, "binance_ws_api_url": fake.ws_url,
        "request_timeout_seconds": 1, "poll_interval_seconds": 0.3, "retry_base_seconds": 0.05,
        "submit_idle_seconds": 0.1, "ack_wait_seconds": 3, "breaker_cool_down_seconds": 0.5,
        **execution}))
    pos = build_position(PositionSettings(
        nats_url=nats_url, database_url=database_url, db_schema=schemas[1], ack_wait_seconds=2,
        outbox_poll_seconds=0.2, resync_on_start=False,
        stop_watchdog_interval_seconds=600))  # a stop placed again is the refusal's answer, not its
    await ex.start()
    await pos.start()
    return ex, pos


@pytest_asyncio.fixture
async def stack(bus: Bus, nats_url: str, database_url: str, schemas: tuple[str, str], fake: Any
                ) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    ex, pos = await _stack(nats_url, database_url, schemas, fake)
    try:
        async with asgi_client(ex, "http://execution") as e, asgi_client(pos, "http://position") as p:
            yield e, p
    finally:
        await pos.stop()
        await ex.stop()


@pytest_asyncio.fixture
async def stack_without_stream(bus: Bus, nats_url: str, database_url: str, schemas: tuple[str, str],
                               fake: Any) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """execution learns what happened to an order only from its own requests (no user data
    stream, polling every 30 s): a stop that fills at Binance is found by its cancel."""
    fake.refuse_streams = True
    ex, pos = await _stack(nats_url, database_url, schemas, fake, poll_interval_seconds=30)
    try:
        async with asgi_client(ex, "http://execution") as e, asgi_client(pos, "http://position") as p:
            yield e, p
    finally:
        await pos.stop()
        await ex.stop()


def _live_entry(gate_id: str) -> GateDecision:
    """LONG 0.01 BTC at ~60000, stop 59000, no take-profit: one stop for everything held."""
    decision = TradeDecision(
        occurred_at=T0, account_id=ACCOUNT, decision_id=f"d-{gate_id}", trader_id="t1",
        symbol="BTCUSDT", decision="LONG", confidence="0.8", entry_price="60000", stop_loss="59000",
        take_profits=(), reasoning="integration: live stop move")
    return GateDecision(occurred_at=T0, account_id=ACCOUNT, gate_decision_id=gate_id,
                        outcome="ALLOW_ENTRY", decision=decision, checks=(), approved_quantity="0.01")


def _stops_at_binance(fake: Any) -> list[Any]:
    return [o for o in fake.engine.open_orders("BTCUSDT") if o.side == "SELL" and o.type == "STOP_LOSS"]


async def _open_live(bus: Bus, execution: httpx.AsyncClient, position: httpx.AsyncClient, fake: Any,
                     gate_id: str) -> str:
    """A LIVE position holding 0.01 BTC with its stop resting at Binance at 59000: its id."""
    r = await execution.put(f"/accounts/{ACCOUNT}/keys", json={"api_key": "test-key", "api_secret": "test-secret"})
    assert r.status_code == 200, r.text
    r = await execution.put(f"/accounts/{ACCOUNT}", json={"mode": "LIVE", "testnet": True, "confirmation": CONFIRM})
    assert r.status_code == 200, r.text

    async def reconciled() -> bool:
        evts = await read_stream(bus, s.ALL_ACCOUNT_EVENTS)
        return any(e.message_type == "ReconciliationCompleted" for e in evts)

    await wait_until(reconciled, message="execution reconciled the account")
    r = await position.put(f"/accounts/{ACCOUNT}", json={"mode": "LIVE"})
    assert r.status_code == 200, r.text
    await bus.publish(tick("60000", 0))  # position's last price
    gate = _live_entry(gate_id)
    pid = position_id_for(gate.gate_decision_id)
    await bus.publish(gate)

    async def protected() -> bool:
        view = await _view(position, pid)
        stops = [o for o in (view or {}).get("orders", []) if o["live"] and o["kind"] == "STOP"]
        return bool(view and view["status"] == "OPEN" and stops and all(o["accepted"] for o in stops)
                    and [o.stop_price for o in _stops_at_binance(fake)] == [D("59000")])

    await wait_until(protected, timeout=30, message="open, its stop resting at Binance")
    return pid


async def _view(position: httpx.AsyncClient, pid: str) -> dict[str, Any] | None:
    r = await position.get(f"/positions/{pid}")
    return r.json() if r.status_code == 200 else None


async def _errors(bus: Bus, pid: str) -> list[PositionError]:
    return [m for m in await read_stream(bus, s.ALL_POSITION_EVENTS)
            if isinstance(m, PositionError) and m.position_id == pid]


async def test_live_stop_move_refused_by_binance_after_the_old_stop_was_cancelled_has_a_stop_again_at_once(
    bus: Bus, stack: tuple[httpx.AsyncClient, httpx.AsyncClient], fake: Any
) -> None:
    """The stop is moved from 59000 to 59500. execution cancels the 59000 stop at Binance, and
    Binance refuses the 59500 one (a filter failure, twice: execution refreshes the rules and
    tries once more). Without an answer the 0.01 BTC sat with no stop at Binance until the
    watchdog (600 s here). Now a stop at 59000 rests again at once."""
    execution, position = stack
    pid = await _open_live(bus, execution, position, fake, "g-live-move")
    [old_stop] = _stops_at_binance(fake)
    fake.inject(_fakes().Fault("POST", "order", "filter_failure", times=2))

    r = await position.put(f"/positions/{pid}/stop-loss", json={"price": "59500"})
    assert r.status_code == 200, r.text

    async def refused() -> bool:
        return any(isinstance(m, OrderRejected) and m.position_id == pid and m.reason_code == "BINANCE_1013"
                   for m in await read_stream(bus, s.ALL_ORDER_EVENTS))

    await wait_until(refused, timeout=15, message="Binance refused the moved stop")
    assert old_stop.status == "CANCELED", "execution cancelled the old stop first"
    assert fake.error_codes("POST", "order") == [-1013, -1013]

    async def stop_again() -> list[Any] | None:
        stops = _stops_at_binance(fake)
        return stops or None

    stops = await wait_until(stop_again, timeout=10,
                             message="a stop resting at Binance again (0.01 BTC held with none)")
    assert [(o.stop_price, o.quantity) for o in stops] == [(D("59000"), D("0.01"))]
    view = await _view(position, pid)
    assert view is not None and view["status"] == "OPEN" and D(view["stop_loss"]) == D("59000")
    assert "STOP_MOVE_REFUSED" in [e.reason_code for e in await _errors(bus, pid)]
    audit = (await position.get(f"/positions/{pid}/modifications")).json()
    assert [(a["kind"], a["triggered_by"], a["verdict"]) for a in audit if a["kind"] == "REPROTECT"] == [
        ("REPROTECT", "RULE_ENGINE", "APPLIED")]


async def test_live_stop_move_refused_because_the_old_stop_filled_places_nothing_again(
    bus: Bus, stack_without_stream: tuple[httpx.AsyncClient, httpx.AsyncClient], fake: Any
) -> None:
    """The price falls through 59000: the stop fills at Binance, and execution (no user data
    stream) does not know yet. position moves the stop to 59500: execution's cancel answers
    "unknown order", its query finds the fill (published), and the replacement is refused
    ``REPLACE_TARGET_NOT_OPEN``. The position closes on that fill; nothing is placed again
    (a stop or an exit now would sell 0.01 BTC it no longer holds)."""
    execution, position = stack_without_stream
    pid = await _open_live(bus, execution, position, fake, "g-live-filled")
    fake.engine.set_price("BTCUSDT", D("58900"))
    assert _stops_at_binance(fake) == [] and len(fake.engine.trades) == 2, "the stop filled at Binance"
    posts = len(fake.order_posts())

    r = await position.put(f"/positions/{pid}/stop-loss", json={"price": "59500"})
    assert r.status_code == 200, r.text

    async def closed_and_refused() -> bool:
        view = await _view(position, pid)
        refused = any(isinstance(m, OrderRejected) and m.position_id == pid
                      and m.reason_code == "REPLACE_TARGET_NOT_OPEN"
                      for m in await read_stream(bus, s.ALL_ORDER_EVENTS))
        return bool(view and view["status"] == "CLOSED" and refused)

    await wait_until(closed_and_refused, timeout=15, message="closed by the stop's fill, the move refused")
    await asyncio.sleep(1.5)  # what position would send on the refusal has reached Binance by now
    assert len(fake.order_posts()) == posts, f"placed after the fill: {fake.order_posts()[posts:]}"
    assert fake.engine.open_orders("BTCUSDT") == []
    sold = sum((t.qty for t in fake.engine.trades if t.order.side == "SELL"), D(0))
    assert sold == D("0.01")
    events = [m for m in await read_stream(bus, s.ALL_POSITION_EVENTS) if m.position_id == pid]
    assert len([m for m in events if isinstance(m, PositionClosed)]) == 1
    assert "STOP_MOVE_REFUSED" not in [e.reason_code for e in await _errors(bus, pid)]

