"""A transaction's writes travel in its COMMIT's round trip, as literals, when the kit owns the
transaction; written as literals or with parameters, the tables end up the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import asyncpg
import pytest
from robson_kit.bus import Bus
from robson_kit.rawtx import WITH_COMMIT, NotLiteral, begin_with_inbox
from robson_kit.testing import log_queries, wait_until
from robson_paper.adapters import store, upserts
from robson_paper.domain.config import MarketFill
from robson_paper.main import build_service
from robson_paper.settings import PaperSettings

from .bus_helpers import D, order, tick, waiter

WHEN = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
AWKWARD = "it's a \\ back'slash \"quoted\" ü 🙂 $1 ; --"
"""Quotes, a backslash, non-ASCII, a placeholder and a comment marker: none may change a literal."""


def _rows() -> list[tuple[upserts.Upsert, list[tuple[object, ...]]]]:
    other_zone = WHEN.astimezone(timezone(timedelta(hours=-5)))
    return [
        (upserts.ORDERS, [
            ("acc'1", "o\\1", "BTCUSDT", "NEW", True, None, None, 7, WHEN,
             json.dumps({"note": AWKWARD, "qty": "0.10"})),
            ("acc'1", "o2", "BTCUSDT", "FILLED", False, "L1", "pos1", 2**40, other_zone,
             json.dumps({"note": "plain"}))]),
        (upserts.ACCOUNTS, [("acc'1", "default", json.dumps({"free": {"USDT": "1E+3"}}))]),
        (upserts.MARKETS, [("BTCUSDT", D("64000.12345678"), WHEN, None),
                           ("ETHUSDT", D("1E-30"), other_zone, D("0.0123"))]),
        (upserts.FILLS, [("f1", "acc'1", "o2", "BTCUSDT", "BUY", D("100"), D("0.1"), D("-0"),
                          "USDT", "TAKER", WHEN, 1)]),
    ]


async def _tables(conn: asyncpg.Connection) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "orders": "SELECT account_id, order_id, symbol, status, live, list_id, position_id, seq, "
                  "updated_at, data FROM orders ORDER BY order_id",
        "accounts": "SELECT account_id, tenant_id, data FROM accounts ORDER BY account_id",
        "market_state": "SELECT * FROM market_state ORDER BY symbol",
        "fills": "SELECT * FROM fills ORDER BY fill_id",
    }
    return {table: [tuple(r) for r in await conn.fetch(sql)] for table, sql in queries.items()}


async def _clear(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE orders, accounts, market_state, fills")


async def _migrated(nats_url: str, database_url: str, schema: str) -> asyncpg.Connection:
    service = build_service(PaperSettings(nats_url=nats_url, database_url=database_url,
                                          db_schema=schema))
    await service.start()  # migrates the schema
    await service.stop()
    return await asyncpg.connect(database_url, server_settings={"search_path": schema})


async def test_literal_and_parameterized_upserts_write_the_same_rows(
    nats_url: str, database_url: str, schema: str
) -> None:
    conn = await _migrated(nats_url, database_url, schema)
    try:
        due = _rows()
        await _clear(conn)
        await conn.execute(upserts.literal(due))
        by_literal = await _tables(conn)
        await _clear(conn)
        statement = upserts.combined(tuple(u.parameterized for u, _ in due))
        await conn.execute(statement, *[list(c) for _, rows in due for c in zip(*rows, strict=True)])
        by_parameters = await _tables(conn)
        assert by_literal == by_parameters
        notes = {r[1]: json.loads(r[-1])["note"] for r in by_literal["orders"]}
        assert notes["o\\1"] == AWKWARD
        assert by_literal["market_state"][1][1] == D("1E-30")
        # the conflict rule: a second write of the same keys updates them, both ways alike
        changed = [(u, [(*r[:3], "CANCELED", *r[4:]) if u is upserts.ORDERS else r for r in rows])
                   for u, rows in due]
        await conn.execute(upserts.literal(changed))
        assert [r[3] for r in (await _tables(conn))["orders"]] == ["CANCELED", "CANCELED"]
    finally:
        await conn.close()


@pytest.mark.parametrize("row", [
    ("BTCUSDT", Decimal("NaN"), WHEN, None),
    ("BTCUSDT", D(1), WHEN.replace(tzinfo=None), None),
    ("BTCUSDT", 1.5, WHEN, None),
    ("BTC\x00USDT", D(1), WHEN, None),
])
def test_a_value_that_cannot_be_a_literal_refuses_the_literal_form(row: tuple[object, ...]) -> None:
    with pytest.raises(NotLiteral):
        upserts.literal([(upserts.MARKETS, [row])])


async def test_a_commands_writes_go_with_its_commit_and_load_back_as_memory_holds_them(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """A market order filled at the last price: the command's transaction writes the order,
    the account and the fill, all in its COMMIT's round trip."""
    service = build_service(PaperSettings(nats_url=nats_url, database_url=database_url,
                                          db_schema=schema, slippage_bps=0,
                                          market_fill=MarketFill.LAST_PRICE))
    executed = log_queries(service.engine)  # before start: every connection is logged
    await service.start()
    try:
        await bus.publish(tick("101", 1))
        await wait_until(lambda: _priced(service), message="price seen")
        executed.clear()
        await bus.publish(order("buy", "BUY", "MARKET", "0.1", 2))
        await wait_until(waiter(bus, "OrderFilled", "buy"), message="buy filled")
        async with service.uow() as uow:
            loaded = await store.load(uow.session, PaperSettings().engine_config(),
                                      PaperSettings().symbol_rules())
        memory = service.deps.exchange
        assert memory is not None
    finally:
        await service.stop()
    committing = [q for q in executed if q.rstrip().endswith("COMMIT")]
    assert any("INSERT INTO orders" in q and "INSERT INTO fills" in q for q in committing)
    assert not [q for q in executed if "unnest" in q], "no write went on its own"
    assert loaded.accounts["acc1"].to_json() == memory.accounts["acc1"].to_json()
    assert loaded.markets["BTCUSDT"].last_price == D(101)
    assert ("acc1", "buy") in loaded.finished
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        assert await conn.fetchval("SELECT status FROM orders WHERE order_id = 'buy'") == "FILLED"
        assert await conn.fetchval("SELECT price FROM fills WHERE order_id = 'buy'") == D(101)
    finally:
        await conn.close()


def _priced(service: object) -> bool:
    ex = service.deps.exchange  # type: ignore[attr-defined]
    return ex is not None and "BTCUSDT" in ex.markets and ex.markets["BTCUSDT"].last_price is not None


async def test_a_large_flush_goes_with_parameters_a_small_one_with_the_commit(
    nats_url: str, database_url: str, schema: str
) -> None:
    """Literals cost the server a parse per value: a burst's large flush keeps its parameters."""
    service = build_service(PaperSettings(nats_url=nats_url, database_url=database_url,
                                          db_schema=schema))
    await service.start()
    try:
        row = ("BTCUSDT", D(1), WHEN, None)
        for count, queued in ((store.LITERAL_MAX_ROWS, True), (store.LITERAL_MAX_ROWS + 1, False)):
            async with service.sessions() as session, session.begin():
                assert await begin_with_inbox(session, [(uuid4(), "c", "s")], "test")
                due = [(upserts.MARKETS, [row] * count)]
                assert store.with_commit(session, due) is queued
                assert bool(session.info.get(WITH_COMMIT)) is queued
                session.info.pop(WITH_COMMIT, None)
                await session.rollback()
    finally:
        await service.stop()
