"""On real NATS + Postgres: a stream of ticks is persisted once per batch, the kill switch
still catches a dip inside a batch, and a restart resumes from the persisted prices."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx
from robson_contracts import CloseAllPositions, TradeTick
from robson_contracts import subjects as s
from robson_entry_gate.adapters.market import MarketStore
from robson_entry_gate.deps import EntryGateService
from robson_kit.bus import Bus
from robson_kit.testing import ServiceProcess, read_stream, wait_until

from .conftest import gate_env, running_gate
from .factories import T0, decision, opened, snapshot


def _ticks(prices: list[str], symbol: str = "BTCUSDT") -> list[TradeTick]:
    return [TradeTick(occurred_at=T0 + timedelta(seconds=i), symbol=symbol, price=p)
            for i, p in enumerate(prices, start=1)]


async def _close_all(bus: Bus) -> list | None:
    return await read_stream(bus, "robson.position.cmd.>") or None


async def _acked_all(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.MARKET.name, "entry_gate_market")
    return info.ack_floor.stream_seq >= n


async def test_dip_inside_a_tick_burst_engages_kill_switch_at_the_dipping_tick(
    bus: Bus, gate: EntryGateService, api: httpx.AsyncClient
) -> None:
    # the daily loss limit (flatten at 5%) would act first: this test is the kill switch's
    await api.put("/policies/acc1", json={"daily_loss": {"enabled": False}})
    await bus.publish(snapshot("10000", T0))
    await bus.publish(opened("p1", qty="100", entry="100", stop="50"))
    await wait_until(lambda: _open_positions(api, 1), message="position projected")
    burst = _ticks(["99", "95", "90", "79", "90", "101"] + ["102"] * 30)
    for tick in burst:
        await bus.publish(tick)
    [close_all] = await wait_until(lambda: _close_all(bus), message="close-all commanded")
    assert isinstance(close_all, CloseAllPositions)
    assert close_all.causation_id == burst[3].message_id  # the 79 tick, not the burst's end
    status = (await api.get("/accounts/acc1/risk")).json()
    assert status["kill_switch"]["engaged"] is True
    assert status["kill_switch"]["equity"] == "7900"


async def test_tick_burst_persists_latest_price_and_restart_resumes_from_it(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    burst = _ticks([str(100 + i) for i in range(200)]) + _ticks(["50"], symbol="ETHUSDT")
    async with running_gate(nats_url, database_url, schema):
        for tick in burst:
            await bus.publish(tick)
        await wait_until(lambda: _acked_all(bus, len(burst)), message="burst consumed")
    async with running_gate(nats_url, database_url, schema) as again:
        view = again.deps.market.view
        assert str(view["BTCUSDT"].last_price) == "299"
        assert view["BTCUSDT"].price_at == T0 + timedelta(seconds=200)
        assert str(view["ETHUSDT"].last_price) == "50"
        late = decision(1, at=T0 + timedelta(seconds=201), entry="299", stop="290")
        await bus.publish(late)
        [judged] = await wait_until(lambda: _gate(bus), message="decision judged")
        assert "MARKET_DATA_STALE" not in judged.reason_codes


def _count_writes(market: MarketStore) -> list[set[str]]:
    """The symbols of each ``market_state`` write from now on."""
    writes: list[set[str]] = []
    write_rows = market._write_rows

    async def counted(uow, snaps):  # type: ignore[no-untyped-def]
        writes.append({snap.symbol for snap in snaps})
        await write_rows(uow, snaps)

    market._write_rows = counted  # type: ignore[method-assign]
    return writes


async def _gate(bus: Bus) -> list | None:
    return await read_stream(bus, s.ALL_GATE_DECISIONS) or None


async def _open_positions(api: httpx.AsyncClient, n: int) -> bool:
    status = (await api.get("/accounts/acc1/risk")).json()
    return status["risk_budget"]["open_positions"] == n


async def test_sigkill_during_a_tick_burst_and_restart_ends_with_the_latest_prices(
    bus: Bus, nats_url: str, database_url: str, schema: str, tmp_path
) -> None:
    burst = _ticks([str(100 + i) for i in range(400)])
    env = gate_env(nats_url, database_url, schema)
    procs = [ServiceProcess("robson_entry_gate", env, "ROBSON_ENTRY_GATE_HTTP_PORT",
                            tmp_path / "a.log").start()]
    try:
        for tick in burst:
            await bus.publish(tick)
        await wait_until(lambda: _acked_all(bus, 50), message="part of the burst consumed")
        procs[0].kill()
        procs.append(ServiceProcess("robson_entry_gate", env, "ROBSON_ENTRY_GATE_HTTP_PORT",
                                    tmp_path / "b.log").start())
        await wait_until(lambda: _acked_all(bus, len(burst)), message="burst consumed")
    finally:
        procs[-1].stop()
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        row = await conn.fetchrow("SELECT last_price, price_at FROM market_state")
    finally:
        await conn.close()
    assert (str(row["last_price"]), row["price_at"]) == ("499", T0 + timedelta(seconds=400))


async def test_prices_nobody_holds_are_stored_together_within_the_bound_and_restored_after_restart(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    """Symbols that start ticking at different times fall due together: the row a due tick
    stores carries every price moved only in memory since, so one statement per write interval
    stores them all (not one per symbol); after a restart each is at most that interval
    behind the last tick, and the next tick moves it on."""
    symbols = [f"S{i}USDT" for i in range(5)]
    ticks = [TradeTick(occurred_at=T0 + timedelta(milliseconds=100 * k), symbol=sym,
                       price=str(100 + k))
             for k in range(40) for i, sym in enumerate(symbols) if k >= 2 * i + 1]
    last = T0 + timedelta(milliseconds=100 * 39)
    async with running_gate(nats_url, database_url, schema) as first:
        market = first.deps.market
        writes = _count_writes(market)
        for tick in ticks:
            await bus.publish(tick)
        await wait_until(lambda: _acked_all(bus, len(ticks)), message="ticks consumed")
        assert all(market.view[sym].price_at == last for sym in symbols)  # memory: current
        assert all(last - market.written[sym] < market.write_interval for sym in symbols)
        # each symbol's first tick is due (never stored), then one write a second for all
        assert len(writes) <= len(symbols) + 4
        assert writes[-1] == set(symbols)
    async with running_gate(nats_url, database_url, schema) as again:
        view = again.deps.market.view
        for sym in symbols:
            assert last - view[sym].price_at < timedelta(seconds=1)
            assert view[sym].last_price == 100 + (view[sym].price_at - T0) // timedelta(
                milliseconds=100)


async def test_held_symbol_under_a_policy_watching_no_price_moves_in_memory_until_a_watch_is_on(
    bus: Bus, gate: EntryGateService, api: httpx.AsyncClient
) -> None:
    """With neither the kill switch nor the daily loss limit on, a held symbol's price can trip
    nothing: it is handled as an unheld one (memory now, its row on schedule). Turning a watch
    on makes the next tick a transaction again (the watch runs in it), as every tick of a
    watched holding is; its row is still stored on schedule."""
    assert (await api.put("/policies/acc1", json={"drawdown": {"enabled": False},
                                                  "daily_loss": {"enabled": False}})).status_code == 200
    await bus.publish(snapshot("10000", T0))
    await bus.publish(opened("p1", qty="10", entry="100", stop="50"))
    await wait_until(lambda: _open_positions(api, 1), message="position projected")
    market = gate.deps.market
    writes = _count_writes(market)
    batches: list[int] = []
    persist = market.persist

    async def closed(uow, batch):  # type: ignore[no-untyped-def]
        batches.append(len(batch.moves))
        await persist(uow, batch)

    market.persist = closed  # type: ignore[method-assign]
    ticks = [TradeTick(occurred_at=T0 + timedelta(milliseconds=100 * k), symbol="BTCUSDT",
                       price=str(100 - k)) for k in range(1, 9)]
    for tick in ticks:
        await bus.publish(tick)
    await wait_until(lambda: _acked_all(bus, len(ticks)), message="unwatched ticks consumed")
    assert market.view["BTCUSDT"].last_price == 92  # every move is in the view
    assert writes == [{"BTCUSDT"}]  # only the first (never stored, so due) was a transaction
    assert batches == [1]

    assert (await api.put("/policies/acc1", json={"daily_loss": {"enabled": False}})).status_code == 200
    watched = TradeTick(occurred_at=T0 + timedelta(milliseconds=950), symbol="BTCUSDT", price="91")
    await bus.publish(watched)
    await wait_until(lambda: _acked_all(bus, len(ticks) + 1), message="watched tick consumed")
    assert batches == [1, 1]  # watched: a transaction
    assert writes == [{"BTCUSDT"}]  # its row not due within the interval
    assert market.view["BTCUSDT"].last_price == 91
    due = TradeTick(occurred_at=T0 + timedelta(milliseconds=1100), symbol="BTCUSDT", price="90")
    await bus.publish(due)
    await wait_until(lambda: _acked_all(bus, len(ticks) + 2), message="due tick consumed")
    assert writes == [{"BTCUSDT"}, {"BTCUSDT"}]  # a second after the stored one: due


async def test_a_watched_holding_is_watched_at_every_tick_yet_its_price_stored_once_a_second(
    bus: Bus, gate: EntryGateService, api: httpx.AsyncClient
) -> None:
    """Ticks of a watched holding 100 ms apart: the kill switch still acts at the dipping tick
    (each batch is replayed tick by tick in its transaction), while the price row is written
    at most once per second of event time (a batch with nothing due writes nothing)."""
    await api.put("/policies/acc1", json={"daily_loss": {"enabled": False}})
    await bus.publish(snapshot("10000", T0))
    await bus.publish(opened("p1", qty="100", entry="100", stop="50"))
    await wait_until(lambda: _open_positions(api, 1), message="position projected")
    market = gate.deps.market
    writes = _count_writes(market)
    prices = ["99", "98", "97", "96", "95"] * 4 + ["90", "79", "90", "101"] + ["102"] * 6
    burst = [TradeTick(occurred_at=T0 + timedelta(milliseconds=100 * k), symbol="BTCUSDT",
                       price=p) for k, p in enumerate(prices, start=1)]
    acked = (await bus.js.consumer_info(s.MARKET.name, "entry_gate_market")).ack_floor.stream_seq
    for n, tick in enumerate(burst, start=1):  # one batch each: a transaction each
        await bus.publish(tick)
        await wait_until(lambda n=n: _acked_all(bus, acked + n), message=f"tick {n} consumed")
    [close_all] = await wait_until(lambda: _close_all(bus), message="close-all commanded")
    assert close_all.causation_id == burst[21].message_id  # the 79 tick
    assert market.view["BTCUSDT"].last_price == 102
    # 3 s of event time: the first tick (never stored), then at most one a second
    assert 1 <= len(writes) <= 4, writes
