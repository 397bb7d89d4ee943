"""Replay of a real-format Binance archive file through real NATS and Postgres."""

from __future__ import annotations

from datetime import timedelta

from robson_contracts import Candle, SignalDetected, TradeTick, encode
from robson_contracts import subjects as s
from robson_kit.testing import read_stream, reset_streams, unique_schema, wait_until
from robson_kit.testing.helpers import drop_schema

from .conftest import REAL_FILE, client

BINDINGS = {
    "t-ema": {
        "account_id": "acc1",
        "strategy": "ema_cross",
        "params": {"fast": 5, "slow": 13},
        "symbols": ["BTCUSDT"],
        "timeframes": ["5m"],
    },
    "t-don": {
        "account_id": "acc1",
        "strategy": "donchian_breakout",
        "params": {"period": 20},
        "symbols": ["BTCUSDT"],
        "timeframes": ["5m"],
    },
    "t-rsi": {
        "account_id": "acc2",
        "strategy": "rsi_mean_reversion",
        "params": {},
        "symbols": ["BTCUSDT"],
        "timeframes": ["5m"],
    },
}


async def replay_once(bus, make_service, schema: str) -> list[SignalDetected]:
    service = await make_service(
        schema, feed="replay", replay_path=str(REAL_FILE), feed_autostart=False
    )
    async with client(service) as http:
        for trader, body in BINDINGS.items():
            assert (await http.put(f"/traders/{trader}", json=body)).status_code == 200
        assert (await http.post("/feed/start")).status_code == 202

        async def finished():
            body = (await http.get("/feed")).json()
            return body if body["finished"] else None

        status = await wait_until(finished, timeout=60, message="replay finished")
        assert status["candles"] == 400 and status["skipped_rows"] == 0
        assert status["last_event_time"]["BTCUSDT"]["5m"] == "2024-01-02T09:20:00+00:00"
        api_signals = (await http.get("/signals", params={"limit": 10000})).json()
    await service.stop()
    bus_signals = await read_stream(bus, s.ALL_SIGNALS)
    assert sorted(sig["signal_id"] for sig in api_signals) == sorted(
        x.signal_id for x in bus_signals
    )
    return bus_signals


async def test_replay_of_archive_file_publishes_every_candle_in_order_with_exact_event_times(
    bus, make_service, database_url
) -> None:
    signals = await replay_once(bus, make_service, unique_schema())
    market = await read_stream(bus, "robson.market.>")
    candles = [m for m in market if isinstance(m, Candle)]
    rows = [line.split(",") for line in REAL_FILE.read_text().splitlines()]
    assert len(candles) == len(rows) == 400
    for candle, row in zip(candles, rows, strict=True):
        assert int(candle.open_time.timestamp() * 1000) == int(row[0])
        assert candle.occurred_at == candle.close_time == candle.open_time + timedelta(minutes=5)
        assert [str(candle.open), str(candle.high), str(candle.low), str(candle.close)] == row[1:5]
    # Per candle: four path ticks inside it, then the candle itself.
    for i in range(0, len(market), 5):
        ticks, candle = market[i : i + 4], market[i + 4]
        assert all(isinstance(t, TradeTick) for t in ticks) and isinstance(candle, Candle)
        assert ticks[0].price == candle.open and ticks[-1].price == candle.close
        assert all(candle.open_time <= t.occurred_at < candle.close_time for t in ticks)
    assert {sig.strategy for sig in signals} == {
        "ema_cross",
        "donchian_breakout",
        "rsi_mean_reversion",
    }
    times = [sig.occurred_at for sig in signals]
    assert times == sorted(times)
    assert all(sig.occurred_at == sig.candle_time + timedelta(minutes=5) for sig in signals)


async def test_same_file_replayed_twice_gives_byte_identical_signals(
    bus, make_service, database_url
) -> None:
    first_schema, second_schema = unique_schema(), unique_schema()
    try:
        first = await replay_once(bus, make_service, first_schema)
        await reset_streams(bus)
        second = await replay_once(bus, make_service, second_schema)
    finally:
        for name in (first_schema, second_schema):
            await drop_schema(database_url, name)
    assert len(first) > 10
    assert [encode(m) for m in first] == [encode(m) for m in second]


async def test_a_row_beyond_the_contracts_bounds_is_skipped_not_the_whole_batch(
    bus, make_service, tmp_path
) -> None:
    """A price the Candle contract refuses (|x| >= 1e18, > 40 decimals) passed the CSV checks;
    the pipeline had already advanced its cursor past the batch, so its other candles were
    never published nor stored. Non-strict replay must skip and report that one row."""
    t0, step = 1704067200000, 300_000
    rows = [f"{t0 + i * step},100,101,99,100,1,{t0 + (i + 1) * step - 1},0,0,0,0,0"
            for i in range(10)]
    rows[4] = f"{t0 + 4 * step},100,1e20,99,100,1,{t0 + 5 * step - 1},0,0,0,0,0"
    path = tmp_path / "BTCUSDT-5m-2024-01.csv"
    path.write_text("\n".join(rows) + "\n")
    service = await make_service(feed="replay", replay_path=str(path))
    async with client(service) as http:

        async def settled():
            body = (await http.get("/feed")).json()
            return body if body["finished"] else None

        status = await wait_until(settled, timeout=20, message="replay finished")
        stored = (await http.get("/candles", params={"symbol": "BTCUSDT", "timeframe": "5m"})).json()
    assert (status["finished"], status["skipped_rows"], status["candles"], len(stored)) == (
        True, 1, 9, 9), status["candles"]
    candles = [m for m in await read_stream(bus, s.ALL_CANDLES) if isinstance(m, Candle)]
    assert len(candles) == 9
