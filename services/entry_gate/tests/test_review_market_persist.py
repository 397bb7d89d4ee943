"""Review (real NATS + Postgres) of the market store writing a batch's prices only when a row
is due, and of a batch of account events locking its accounts ahead: what a restart finds,
what a rolled-back batch leaves, what a breach commits, and batches mixing accounts without a
row yet, existing ones and events the gate does not project."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import httpx
import pytest
from robson_contracts import MarketContext, PositionError, TradeTick
from robson_contracts import subjects as s
from robson_entry_gate.deps import EntryGateService
from robson_entry_gate.handlers import market as market_handlers
from robson_kit.bus import Bus
from robson_kit.errors import PermanentError
from robson_kit.testing import ADMIN_HEADERS, reset_streams, wait_until

from .conftest import running_gate
from .factories import T0, opened, snapshot
from .test_batching import _run_backlog
from .test_market_feed import _acked_all, _close_all, _open_positions


def _client(service: EntryGateService) -> httpx.AsyncClient:
    return httpx.AsyncClient(headers=ADMIN_HEADERS, base_url="http://gate",
                             transport=httpx.ASGITransport(app=service.app(manage_lifecycle=False)))


def _tick(ms: int, price: str, symbol: str = "BTCUSDT") -> TradeTick:
    return TradeTick(occurred_at=T0 + timedelta(milliseconds=ms), symbol=symbol, price=price)


async def _row(database_url: str, schema: str, symbol: str = "BTCUSDT") -> asyncpg.Record:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return await conn.fetchrow("SELECT * FROM market_state WHERE symbol = $1", symbol)
    finally:
        await conn.close()


async def _watched_holding(bus: Bus, api: httpx.AsyncClient) -> None:
    """acc1 holds 100 BTCUSDT from 100 under the kill switch (daily loss off)."""
    await api.put("/policies/acc1", json={"daily_loss": {"enabled": False}})
    await bus.publish(snapshot("10000", T0))
    await bus.publish(opened("p1", qty="100", entry="100", stop="50"))
    await wait_until(lambda: _open_positions(api, 1), message="position projected")


async def _one_by_one(bus: Bus, ticks: list) -> None:
    acked = (await bus.js.consumer_info(s.MARKET.name, "entry_gate_market")).ack_floor.stream_seq
    for n, message in enumerate(ticks, start=1):  # one batch each: a transaction each
        await bus.publish(message)
        await wait_until(lambda n=n: _acked_all(bus, acked + n), message=f"message {n} consumed")


async def test_market_context_inside_the_write_interval_is_stored_with_its_batch_and_restored(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """A watched holding's price was stored 100 ms ago (no price row due); funding and mark
    arriving now are stored at once (a context is never left to memory) and a restart has
    them, while the price stored stays within the interval of the last tick."""
    async with running_gate(nats_url, database_url, schema) as gate, _client(gate) as api:
        await _watched_holding(bus, api)
        context = MarketContext(occurred_at=T0 + timedelta(milliseconds=300), symbol="BTCUSDT",
                                funding_rate=Decimal("0.0001"), mark_price=Decimal("100.5"))
        await _one_by_one(bus, [_tick(100, "100"), _tick(200, "101"), context, _tick(400, "102")])
        row = await _row(database_url, schema)
        assert (row["funding_rate"], row["mark_price"]) == (Decimal("0.0001"), Decimal("100.5"))
        assert row["context_at"] == context.occurred_at
    async with running_gate(nats_url, database_url, schema) as again:
        snap = again.deps.market.view["BTCUSDT"]
        assert (snap.funding_rate, snap.mark_price) == (Decimal("0.0001"), Decimal("100.5"))
        assert T0 + timedelta(milliseconds=400) - snap.price_at < again.deps.market.write_interval


async def test_watched_holding_after_a_stop_without_flush_restores_a_price_within_one_interval(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """Ticks of a watched holding 150 ms apart over 3 s, then the gate stops (nothing flushes
    the view on the way down, as after a SIGKILL): the stored row, and the view a restart
    loads, are less than the write interval behind the last tick, never further."""
    ticks = [_tick(150 * k, str(100 + k)) for k in range(1, 21)]
    async with running_gate(nats_url, database_url, schema) as gate, _client(gate) as api:
        await _watched_holding(bus, api)
        await _one_by_one(bus, ticks)
        assert gate.deps.market.view["BTCUSDT"].last_price == 120
        interval = gate.deps.market.write_interval
    row = await _row(database_url, schema)
    last = ticks[-1].occurred_at
    assert last - row["price_at"] < interval, row
    assert row["last_price"] == 100 + (row["price_at"] - T0) // timedelta(milliseconds=150)
    async with running_gate(nats_url, database_url, schema) as again:
        assert last - again.deps.market.view["BTCUSDT"].price_at < interval


async def test_kill_switch_engaged_by_a_tick_whose_price_row_is_not_due_is_committed_and_survives_restart(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """The dip that trips the kill switch comes 100 ms after a stored price (its batch writes
    no price row): the breach, CloseAllPositions and the engaged switch are committed in that
    transaction all the same, and a restarted gate still has the switch engaged."""
    async with running_gate(nats_url, database_url, schema) as gate, _client(gate) as api:
        await _watched_holding(bus, api)
        writes: list[set[str]] = []
        write_rows = gate.deps.market._write_rows

        async def counted(uow, snaps):  # type: ignore[no-untyped-def]
            writes.append({snap.symbol for snap in snaps})
            await write_rows(uow, snaps)

        gate.deps.market._write_rows = counted  # type: ignore[method-assign]
        await _one_by_one(bus, [_tick(100, "99"), _tick(200, "79")])
        assert writes == [{"BTCUSDT"}]  # the dip's own batch wrote no price row
        await wait_until(lambda: _close_all(bus), message="close-all commanded")
    async with running_gate(nats_url, database_url, schema) as again, _client(again) as api:
        status = (await api.get("/accounts/acc1/risk")).json()
        assert status["kill_switch"]["engaged"] is True
        assert status["kill_switch"]["equity"] == "7900"


async def test_not_due_batch_whose_transaction_rolls_back_leaves_the_view_and_written_alone(
    bus: Bus, gate: EntryGateService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watched holding's tick with no row due, its transaction failing (dead-lettered): the
    view does not take its price, nor does the stored time move; the next good tick does."""
    async with _client(gate) as api:
        await _watched_holding(bus, api)
        market = gate.deps.market
        await _one_by_one(bus, [_tick(100, "99")])
        written = dict(market.written)
        watch = market_handlers._watch_drawdown

        async def failing(uow, deps, batch):  # type: ignore[no-untyped-def]
            if any(m.snapshot.last_price == 50 for m in batch.moves):
                raise PermanentError("TEST_FAILURE", "the watch fails for this batch")
            await watch(uow, deps, batch)

        monkeypatch.setattr(market_handlers, "_watch_drawdown", failing)
        await _one_by_one(bus, [_tick(200, "50")])
        assert market.view["BTCUSDT"].last_price == 99
        assert market.view["BTCUSDT"].price_at == T0 + timedelta(milliseconds=100)
        assert market.written == written
        await _one_by_one(bus, [_tick(300, "98")])
        assert market.view["BTCUSDT"].last_price == 98
        assert market.written == written  # still not due


async def test_batch_of_position_events_mixing_new_accounts_existing_ones_and_other_events_projects_all(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """One backlog batch: positions opened in accounts that have a row (a balance came first)
    and in accounts that have none yet, in reverse id order, with position events the gate
    does not project between them. Locked ahead (existing rows), created (new ones), each
    account projects its position once; nothing is left unprocessed."""
    await reset_streams(bus)
    existing = [f"acc{i}" for i in range(0, 10, 2)]
    new = [f"acc{i}" for i in range(1, 10, 2)]
    first = [snapshot("10000", T0, account=a) for a in existing]
    service = await _run_backlog(bus, nats_url, database_url, schema, first, s.ACCOUNTS.name,
                                 "entry_gate_balances")
    await service.stop()
    events = []
    for a in sorted(existing + new, reverse=True):
        events.append(opened(f"p-{a}", at=T0 + timedelta(seconds=1)).model_copy(
            update={"account_id": a}))
        events.append(PositionError(occurred_at=T0 + timedelta(seconds=1), account_id=a,
                                    position_id=f"p-{a}", reason_code="TEST", message="noise"))
    service = await _run_backlog(bus, nats_url, database_url, schema, events, s.POSITIONS.name,
                                 "entry_gate_positions")
    try:
        async with _client(service) as api:
            for a in existing + new:
                risk = (await api.get(f"/accounts/{a}/risk")).json()
                assert risk["risk_budget"]["open_positions"] == 1, (a, risk)
    finally:
        await service.stop()
