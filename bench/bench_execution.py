"""execution against the local fake Binance spot exchange (real HTTP + WebSocket, in this
process): the real adapter (python-binance, HMAC-signed REST), the service in its own process
(bus → order on the exchange → OrderAccepted on the bus), and reconciliation of 200 open
orders with 1,000 trades it missed.

Figures include the fake exchange's own work (aiohttp, signature checks, matching), which
shares this process's event loop with the benchmark client.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from robson_contracts import OrderSpec, SubmitOrder, TradingMode, decode
from robson_contracts import subjects as s
from robson_execution.adapters.binance import BinanceGateway, Endpoints
from robson_execution.adapters.vault import ApiCredentials
from robson_execution.domain.pacing import RatePacer
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, reset_streams, unique_schema
from robson_kit.testing.auth import install_test_key

from bench.common import Metric, embedded_infrastructure, info, median, percentile


def _fakes():  # type: ignore[no-untyped-def]
    """execution's fake exchange lives in its test code (services/execution/tests/fakes)."""
    import importlib.util
    import sys

    name = "robson_execution_fakes"
    if name not in sys.modules:
        root = Path(__file__).parent.parent / "services/execution/tests/fakes"
        spec = importlib.util.spec_from_file_location(
            name, root / "__init__.py", submodule_search_locations=[str(root)])
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


FakeBinance = _fakes().FakeBinance

T0 = datetime(2024, 5, 1, tzinfo=UTC)
ADAPTER_ORDERS = 300
OPEN_ORDERS = 200
FILLS_PER_ORDER = 5  # per round: 200 x 5 = 1,000 missed trades
ROUNDS = 3
CONFIRM = "I UNDERSTAND THIS TRADES REAL ORDERS"


async def _adapter(fake: FakeBinance) -> tuple[float, list[float]]:
    """Sequential signed ``POST /api/v3/order`` through the gateway; pacing off (Binance itself
    allows 100 orders / 10 s per account, which the pacer would enforce)."""
    unpaced = RatePacer(weight_limit=10**9, order_limit_10s=10**9)
    gw = BinanceGateway(ApiCredentials("test-key", "test-secret"), Endpoints(fake.rest_url, fake.ws_url),
                        pacer=unpaced)
    try:
        await gw.sync_time()
        latencies = []
        started = time.perf_counter()
        for i in range(ADAPTER_ORDERS):
            t = time.perf_counter()
            res = await gw.place_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                        "quantity": "0.001", "price": "30000", "newClientOrderId": f"bench{i}"})
            latencies.append((time.perf_counter() - t) * 1000)
            if not res.ok:
                raise RuntimeError(f"adapter order {i} failed: {res.outcome}")
        return ADAPTER_ORDERS / (time.perf_counter() - started), latencies
    finally:
        await gw.close()


def _service(infra: object, fake: FakeBinance, log: Path) -> ServiceProcess:
    env = {
        "NATS_URL": infra.nats_url, "DATABASE_URL": infra.database_url,  # type: ignore[attr-defined]
        "ROBSON_EXECUTION_DB_SCHEMA": unique_schema("bench_exec"),
        "ROBSON_EXECUTION_MASTER_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "ROBSON_EXECUTION_BINANCE_REST_URL": fake.rest_url, "ROBSON_EXECUTION_BINANCE_WS_API_URL": fake.ws_url,
        "ROBSON_EXECUTION_POLL_INTERVAL_SECONDS": "3600", "ROBSON_EXECUTION_RECONCILE_INTERVAL_SECONDS": "3600",
        "ROBSON_EXECUTION_LOG_LEVEL": "WARNING",
    }
    return ServiceProcess("robson_execution", env, "ROBSON_EXECUTION_HTTP_PORT", log)


def _order(i: int) -> SubmitOrder:
    return SubmitOrder(occurred_at=T0, account_id="acc1", venue=TradingMode.LIVE, order=OrderSpec(
        order_id=f"r{i}", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.01"),
        price=Decimal("40000")))


async def _submit_to_accepted(bus: Bus) -> list[float]:
    """Publish one resting LIMIT order at a time; wait for its OrderAccepted on the bus."""
    accepted: dict[str, asyncio.Future[None]] = {}

    async def on_event(msg: object) -> None:
        event = decode(msg.data)  # type: ignore[attr-defined]
        if event.message_type == "OrderAccepted" and event.order_id in accepted:
            accepted[event.order_id].set_result(None)

    sub = await bus.nc.subscribe(s.ALL_ORDER_EVENTS, cb=on_event)
    latencies = []
    try:
        for i in range(OPEN_ORDERS):
            accepted[f"r{i}"] = asyncio.get_running_loop().create_future()
            started = time.perf_counter()
            await bus.publish(_order(i))
            await asyncio.wait_for(accepted[f"r{i}"], 30)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await sub.unsubscribe()
    return latencies


async def _reconcile(api: httpx.AsyncClient) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    r = await api.post("/accounts/acc1/reconcile", timeout=300)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise RuntimeError(f"reconciliation failed: {r.status_code} {r.text}")
    kinds: dict[str, int] = {}
    for item in r.json()["items"]:
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
    return elapsed, kinds


async def _service_metrics(fake: FakeBinance) -> list[Metric]:
    install_test_key()  # the service verifies the bench's token, as it would a client's
    with embedded_infrastructure("robson-bench-exec-") as infra, tempfile.TemporaryDirectory() as tmp:
        bus = await Bus(infra.nats_url, "bench-exec").connect()
        await reset_streams(bus)
        proc = _service(infra, fake, Path(tmp) / "execution.log")
        await asyncio.to_thread(proc.start)
        try:
            async with httpx.AsyncClient(base_url=proc.url, timeout=30, headers=ADMIN_HEADERS) as api:
                await api.put("/accounts/acc1/keys", json={"api_key": "test-key", "api_secret": "test-secret"})
                await api.put("/accounts/acc1", json={"mode": "LIVE", "testnet": True, "confirmation": CONFIRM})
                deadline = time.monotonic() + 60
                while (await api.get("/accounts/acc1")).json()["status"] != "READY":
                    if time.monotonic() > deadline:
                        raise TimeoutError("execution did not finish its start-up reconciliation")
                    await asyncio.sleep(0.05)
                latencies = await _submit_to_accepted(bus)
                fake.refuse_streams = True  # fills now reach execution only through reconciliation
                await fake.drop_streams()
                missed, clean, found = [], [], []
                resting = [o for o in fake.engine.open_orders() if o.client_order_id.startswith("rb")]
                for _ in range(ROUNDS):
                    for order in resting:
                        for _ in range(FILLS_PER_ORDER):
                            fake.engine.fill(order, Decimal("0.0006"))
                    elapsed, kinds = await _reconcile(api)
                    missed.append(elapsed)
                    found.append(kinds.get("MISSED_FILL", 0))
                    if kinds.get("BALANCE_MISMATCH"):
                        raise RuntimeError(f"balances not explained by the fills: {kinds}")
                    clean.append((await _reconcile(api))[0])
        finally:
            await asyncio.to_thread(proc.stop)
            await bus.close()
    if found != [OPEN_ORDERS] * ROUNDS:
        raise RuntimeError(f"expected {OPEN_ORDERS} MISSED_FILL items per round, got {found}")
    return [
        info("execution.submit_to_accepted_ms", median(latencies), "ms",
             note=f"p95 {percentile(latencies, 95):.1f} ms; SubmitOrder on the bus → OrderAccepted on the bus, "
                  f"{OPEN_ORDERS} resting LIMIT orders one at a time, service in its own process"),
        info("execution.reconcile_missed_1000_trades_s", median(missed), "s",
             note=f"{OPEN_ORDERS} open orders, {OPEN_ORDERS * FILLS_PER_ORDER} trades missed while the user "
                  f"stream was down; median of {ROUNDS} (POST /accounts/acc1/reconcile, the start-up code path)"),
        info("execution.reconcile_clean_s", median(clean), "s",
             note=f"{OPEN_ORDERS} open orders, up to {OPEN_ORDERS * FILLS_PER_ORDER * ROUNDS} trades on record, "
                  "nothing to apply (balances compared over every fill since the last snapshot)"),
    ]


async def run() -> list[Metric]:
    # Weight windows of 5 s instead of Binance's minute: the runs below measure the work, not the
    # budget (one 200-order reconciliation costs ~1,900 of Binance's 6,000 weight per minute, so
    # back-to-back runs would mostly measure the pacer waiting for the next minute).
    fake = await FakeBinance(weight_window_ms=5_000).start()
    try:
        rate, latencies = await _adapter(fake)
        if len(fake.engine.open_orders()) != ADAPTER_ORDERS:
            raise RuntimeError(f"expected {ADAPTER_ORDERS} resting orders on the fake")
        fake.engine.orders.clear()  # the adapter run's orders are not execution's
        metrics = [
            info("execution.adapter_orders_per_s", rate, "orders/s",
                 note=f"{ADAPTER_ORDERS} sequential signed POST /api/v3/order through python-binance, pacer off"),
            info("execution.adapter_place_ms", median(latencies), "ms",
                 note=f"p95 {percentile(latencies, 95):.1f} ms; one signed order round trip to the fake"),
        ]
        return metrics + await _service_metrics(fake)
    finally:
        await fake.stop()
