"""A consumer runs a fetched batch of messages in one transaction: paper's turns of that batch
follow each other, other transactions wait for its commit, changes are written once before it
commits — and memory still matches the database, through bad messages and kill -9."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from robson_contracts import DeadLetter, encode
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, read_stream, wait_until
from robson_paper.adapters import store
from robson_paper.deps import PaperService
from robson_paper.domain import Exchange
from robson_paper.settings import PaperSettings

from .bus_helpers import D, at, events_of, order, tick
from .conftest import paper_env

BUYS = [(f"b{i}", str(99 - 3 * i)) for i in range(10)]
"""Resting BUY limits at 99, 96 … 72: the falling walk reaches them one after another."""


def walk(n: int, first: int = 0) -> list[tuple[str, float]]:
    """A price swinging 15 down and back in 0.5 steps, one lower each swing of 60 ticks:
    (price, event seconds)."""
    out = []
    for i in range(first, first + n):
        step = i % 60
        price = Decimal(100) - Decimal(step if step <= 30 else 60 - step) / 2 - i // 60
        out.append((str(price), 10 + i / 100))
    return out


def snapshot(ex: Exchange) -> dict[str, Any]:
    return {
        "accounts": {k: a.to_json() for k, a in ex.accounts.items()},
        "orders": {k: o.to_json() for k, o in ex.orders.items()},
        "finished": ex.finished, "seq": ex.seq,
        "markets": {k: (m.last_price, m.last_time) for k, m in ex.markets.items()},
    }


async def test_ticks_and_commands_in_batches_with_a_bad_command_leave_memory_as_the_database_says(
    bus: Bus, paper: PaperService
) -> None:
    await bus.publish(tick("100", 1))
    await wait_until(lambda: _drained(bus), message="first price")
    subject = s.order_command("PAPER", "acc1", "BTCUSDT")
    commands = [order(oid, "BUY", "LIMIT", "0.1", 2, price=price) for oid, price in BUYS]
    wrong = order("w1", "BUY", "LIMIT", "0.1", 2, price="50").model_copy(update={"venue": "LIVE"})
    commands.insert(5, wrong)

    async def publish_commands() -> None:
        for cmd in commands:
            await bus.publish_raw(subject, encode(cmd), headers_for(cmd))

    async def publish_ticks() -> None:
        for price, seconds in walk(1200):
            await bus.publish(tick(price, seconds))

    await asyncio.gather(publish_commands(), publish_ticks())
    await wait_until(lambda: _drained(bus), timeout=60, message="both consumers drained")
    letters = await read_stream(bus, s.ALL_DEAD_LETTERS)
    assert [x.reason_code for x in letters if isinstance(x, DeadLetter)] == ["WRONG_VENUE"]
    for oid, _ in BUYS:
        assert len(await events_of(bus, "OrderFilled", oid)) == 1, oid
    memory = snapshot(paper.deps.exchange)
    async with paper.uow() as uow:
        loaded = await store.load(uow.session, PaperSettings().engine_config(),
                                  PaperSettings().symbol_rules())
    stored = snapshot(loaded)
    memory_markets, stored_markets = memory.pop("markets"), stored.pop("markets")
    assert memory == stored
    last_price, last_time = memory_markets["BTCUSDT"]
    assert (last_price, last_time) == (D(walk(1200)[-1][0]), at(walk(1200)[-1][1]))
    # a price that filled nothing is written at most once per MARKET_WRITE_SECONDS
    assert last_time - stored_markets["BTCUSDT"][1] < timedelta(seconds=1)


async def test_killed_mid_tick_flood_and_restarted_ends_as_the_pure_engine_fed_the_same_input(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    env = paper_env(nats_url, database_url, schema)
    log = tmp_path / "paper.log"
    first = ServiceProcess("robson_paper", env, "ROBSON_PAPER_HTTP_PORT", log).start()
    before, after = walk(1000), walk(1000, first=1000)
    try:
        await bus.publish(tick("100", 1))
        await wait_until(lambda: _drained(bus), message="first price")
        for oid, price in BUYS:
            await bus.publish(order(oid, "BUY", "LIMIT", "0.1", 2, price=price))
        await wait_until(lambda: _drained(bus), message="orders resting")
        flood = asyncio.create_task(_publish_ticks(bus, before + after))
        await wait_until(lambda: _market_acked_at_least(bus, 300), message="some ticks done")
    finally:
        first.kill()
    await flood
    second = ServiceProcess("robson_paper", env, "ROBSON_PAPER_HTTP_PORT", log).start()
    try:
        await wait_until(lambda: _drained(bus), timeout=60, message="caught up")
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=second.url) as client:
            account = (await client.get("/accounts/acc1")).json()
            fills = (await client.get("/fills", params={"account_id": "acc1"})).json()
    finally:
        second.stop()
    expected = _pure_engine([("tick", "100", 1)] + [("order", oid, p) for oid, p in BUYS]
                            + [("tick", p, t) for p, t in before + after])
    balances = {b["asset"]: (D(b["free"]), D(b["locked"])) for b in account["balances"]}
    want = expected.accounts["acc1"]
    assert balances == {a: (want.free.get(a, D(0)), want.locked(a)) for a in want.assets()}
    assert sorted(f["order_id"] for f in fills) == sorted(oid for oid, _ in BUYS)
    for oid, _ in BUYS:
        assert len(await events_of(bus, "OrderFilled", oid)) == 1, oid


async def _publish_ticks(bus: Bus, ticks: list[tuple[str, float]]) -> None:
    for price, seconds in ticks:
        await bus.publish(tick(price, seconds))


def _pure_engine(inputs: list[tuple[str, str, float | str]]) -> Exchange:
    settings = PaperSettings(slippage_bps=0)
    ex = Exchange(settings.engine_config(), settings.symbol_rules())
    for kind, a, b in inputs:
        if kind == "tick":
            ex.on_price("BTCUSDT", D(a), at(float(b)))
        else:
            cmd = order(a, "BUY", "LIMIT", "0.1", 2, price=str(b))
            ex.submit("acc1", "default", cmd.order, cmd.occurred_at)
    return ex


async def _drained(bus: Bus) -> bool:
    for name in ("paper_market", "paper_commands"):
        stream = s.MARKET.name if name == "paper_market" else s.ORDERS.name
        try:
            info = await bus.js.consumer_info(stream, name)
        except Exception:
            return False
        if info.num_pending or info.num_ack_pending:
            return False
    return True


async def _market_acked_at_least(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.MARKET.name, "paper_market")
    return info.ack_floor.stream_seq >= n


async def test_prices_that_fill_nothing_are_stored_together_within_the_bound(
    bus: Bus, paper: PaperService, monkeypatch: Any
) -> None:
    """Symbols that start ticking at different times fall due together: the transaction that
    stores a due price stores every price moved only in memory since, so the market costs one
    write per interval, not one per symbol; each stored price is at most an interval behind."""
    symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"]
    ticks = [tick(str(100 + k), 100 + k / 10, symbol=sym)
             for k in range(40) for i, sym in enumerate(symbols) if k >= 2 * i + 1]
    writes: list[set[str]] = []
    flush = store.flush

    async def counted(session, ex, events, markets=None):  # type: ignore[no-untyped-def]
        if not events and markets:
            writes.append(set(markets))
        await flush(session, ex, events, markets)

    monkeypatch.setattr(store, "flush", counted)
    for t in ticks:
        await bus.publish(t)
    await wait_until(lambda: _market_acked_at_least(bus, len(ticks)), message="ticks consumed")
    last = at(100 + 39 / 10)
    ex = paper.deps.exchange
    assert all(ex.markets[sym].last_time == last for sym in symbols)  # memory: current
    async with paper.uow() as uow:
        loaded = await store.load(uow.session, PaperSettings().engine_config(),
                                  PaperSettings().symbol_rules())
    assert all(last - loaded.markets[sym].last_time < timedelta(seconds=1) for sym in symbols)
    # each symbol's first tick is due (never stored), then one write a second for all
    assert len(writes) <= len(symbols) + 4, writes
    assert writes[-1] == set(symbols)
