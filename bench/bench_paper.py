"""paper: in-process matching throughput and restart (reload) time with 10,000 resting orders."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from robson_contracts import OrderSpec, OrderType, Side
from robson_paper.domain import EngineConfig, Exchange, Links
from robson_paper.domain.model import Order
from robson_paper.domain.rules import rules

from bench.common import Metric, at_least, at_most, info, median

SYMBOLS = [f"S{i:02d}USDT" for i in range(50)]
ORDERS = 10_000
UPDATES = 100_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
_ANSWER = TypeAdapter(dict[str, Any])
"""How FastAPI encodes a route's ``dict[str, Any]`` answer."""


def _engine(rng: random.Random) -> Exchange:
    table = {s: rules(s, "0.01", "0.001") for s in SYMBOLS}
    ex = Exchange(EngineConfig(), table)
    ex.configure_account("bench", "default", {"USDT": Decimal(10**9),
                                              **{s[:-4]: Decimal(10**6) for s in SYMBOLS}}, False)
    for s in SYMBOLS:
        ex.on_price(s, Decimal(100), T0)
    for i in range(ORDERS):
        s = rng.choice(SYMBOLS)
        side = rng.choice((Side.BUY, Side.SELL))
        kind = rng.choice((OrderType.LIMIT, OrderType.STOP_MARKET))
        level = Decimal(rng.randint(5000, 15000)) / 100
        below = (side is Side.BUY) == (kind is OrderType.LIMIT)
        level = min(level, Decimal("99.99")) if below else max(level, Decimal("100.01"))
        spec = OrderSpec(order_id=f"o{i}", symbol=s, side=side, type=kind, quantity=Decimal("0.1"),
                         price=level if kind is OrderType.LIMIT else None,
                         stop_price=level if kind is OrderType.STOP_MARKET else None)
        ex.submit("bench", "default", spec, T0, Links())
    ex.drain()
    return ex


def _price_updates(rng: random.Random) -> tuple[float, int]:
    ex = _engine(rng)
    prices = {s: 100.0 for s in SYMBOLS}
    stream = []
    for _ in range(UPDATES):
        s = rng.choice(SYMBOLS)
        prices[s] = min(max(prices[s] * (1 + rng.gauss(0, 0.0005)), 50.0), 150.0)
        stream.append((s, Decimal(f"{prices[s]:.2f}")))
    started = time.perf_counter()
    for i, (s, p) in enumerate(stream):
        ex.on_price(s, p, T0 + timedelta(milliseconds=i + 1))
        if i % 1000 == 0:
            ex.drain()
    elapsed = time.perf_counter() - started
    fills = ORDERS - len(ex.orders)
    return UPDATES / elapsed, fills


def _reload_seconds(rng: random.Random) -> float:
    """Rebuild the book from persisted rows (JSON as stored in Postgres), as a restart does."""
    ex = _engine(rng)
    rows = [o.to_json() for o in ex.orders.values()]
    started = time.perf_counter()
    fresh = Exchange(ex.config, ex.rules)
    for data in sorted(rows, key=lambda d: d["seq"]):
        fresh.place(Order.from_json(data))
    elapsed = time.perf_counter() - started
    if len(fresh.orders) != ORDERS or len(rows) != ORDERS:
        raise RuntimeError(f"expected {ORDERS} resting orders, rebuilt {len(fresh.orders)}")
    return elapsed


async def _reload_from_postgres() -> tuple[list[float], list[float]]:
    """Persist 10,000 resting orders with the service's own store, then time ``store.load``
    (what a restarted paper does before it consumes anything), three times."""
    import asyncio
    import tempfile
    from pathlib import Path

    from robson_kit import migrations
    from robson_kit.db import make_engine, make_sessionmaker
    from robson_kit.embedded import EmbeddedPostgres
    from robson_paper.adapters import store
    from robson_paper.main import MIGRATIONS

    with tempfile.TemporaryDirectory() as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg").start()
        engine = None
        try:
            await asyncio.to_thread(migrations.upgrade, MIGRATIONS, pg.url, "paper_bench")
            engine = make_engine(pg.url, "paper_bench", 2)
            sessions = make_sessionmaker(engine)
            ex = _engine(random.Random(7))
            async with sessions() as session, session.begin():
                await store.flush(session, ex, [])
            times, pages = [], []
            for _ in range(3):
                started = time.perf_counter()
                async with sessions() as session:
                    loaded = await store.load(session, ex.config, ex.rules)
                times.append(time.perf_counter() - started)
                if len(loaded.orders) != ORDERS:
                    raise RuntimeError(f"reloaded {len(loaded.orders)} of {ORDERS} orders")
                pages.append(await _live_orders_page(sessions))
            return times, pages
        finally:
            if engine is not None:
                await engine.dispose()
            pg.stop()


async def _live_orders_page(sessions: Any) -> float:
    """CPU seconds of one ``GET /live-orders`` page of every live order, as position's stop
    watchdog reads it each round: the query and FastAPI's encoding of the answer."""
    from robson_paper.adapters import queries

    started = time.process_time()
    async with sessions() as session:
        rows = await queries.live_orders(session, 0, ORDERS, None)
    _ANSWER.dump_json({"orders": rows, "next_after_seq": None})
    if len(rows) != ORDERS:
        raise RuntimeError(f"the page holds {len(rows)} of {ORDERS} live orders")
    return time.process_time() - started


async def run() -> list[Metric]:
    rates, fills, reloads = [], [], []
    for seed in range(3):
        rate, filled = _price_updates(random.Random(seed))
        rates.append(rate)
        fills.append(filled)
        reloads.append(_reload_seconds(random.Random(seed)))
    reloads_from_pg, pages = await _reload_from_postgres()
    return [
        at_least("paper.price_updates_per_s", median(rates), "updates/s", 50_000,
                 note=f"{ORDERS} resting stop/limit orders, 50 symbols, trigger evaluation"),
        info("paper.fills_per_run", median(fills), "fills"),
        info("paper.book_rebuild_s", median(reloads), "s",
             note="in-process rebuild of 10,000 resting orders from stored JSON rows"),
        at_most("paper.restart_ready_s", median(reloads_from_pg), "s", 2,
                note="store.load of 10,000 resting orders from Postgres into a ready book "
                     "(excludes process start and migrations)"),
        info("paper.live_orders_page_cpu_ms", median(pages) * 1000, "ms CPU",
             note="GET /live-orders of 10,000 live orders (the query and FastAPI's JSON "
                  "encoding of the answer), read by position's stop watchdog every round"),
    ]
