"""After a restart the live feed's strategies must be warm, as on a first start."""

from __future__ import annotations

from robson_contracts import SignalDetected
from robson_contracts import subjects as s
from robson_kit.testing import read_stream, wait_until

from .conftest import client
from .fake_binance import kline_row
from .test_binance_live import STEP, _connected, _count, history


async def test_restart_warms_strategies_from_stored_candles_before_catching_up(
    fake, bus, make_service, schema
) -> None:
    first = history(fake, 30)  # closes rise 100 → 129: fast EMA above slow
    service = await make_service(
        feed="binance", symbols="BTCUSDT", timeframes="1m", binance_warmup_candles=20,
        **fake.settings(),
    )
    async with client(service) as http:
        r = await http.put("/traders/t1", json={
            "account_id": "a1", "strategy": "ema_cross", "params": {"fast": 2, "slow": 5},
            "symbols": ["BTCUSDT"], "timeframes": ["1m"]})
        assert r.status_code in (200, 201), r.text
    await wait_until(lambda: _connected(fake), message="stream connected")
    await service.stop()
    # while it was down, the market turned: the first missed candle crosses fast below slow
    missed = [kline_row(first + i * STEP, STEP, close) for i, close in ((30, 60.0), (31, 55.0))]
    fake.klines[("BTCUSDT", "1m")] = [r for r in fake.klines[("BTCUSDT", "1m")] if r[0] < missed[0][0]]
    fake.klines[("BTCUSDT", "1m")] += missed
    await make_service(schema, feed="binance", symbols="BTCUSDT", timeframes="1m",
                       binance_warmup_candles=20, **fake.settings())
    await wait_until(lambda: _count(bus, 2), message="missed candles published")

    async def signals():
        found = [m for m in await read_stream(bus, s.ALL_SIGNALS) if isinstance(m, SignalDetected)]
        return found or None

    found = await wait_until(signals, timeout=5, message="the cross on the first missed candle")
    assert [(int(m.candle_time.timestamp() * 1000), m.direction.value) for m in found] == [
        (missed[0][0], "SHORT")]


async def test_warm_up_signals_never_published_are_not_stored_as_detected(
    fake, bus, make_service
) -> None:
    """First start: the warm-up candles run the strategies silently; a cross inside them is
    not published, so ``GET /signals`` (the record of what was emitted) must not list it."""
    first = history(fake, 30)
    closes = [100.0 + i if i < 20 else 120.0 - 3 * (i - 20) for i in range(30)]
    fake.klines[("BTCUSDT", "1m")] = [
        kline_row(first + i * STEP, STEP, close) for i, close in enumerate(closes)
    ]
    service = await make_service(
        feed="binance", symbols="BTCUSDT", timeframes="1m", binance_warmup_candles=25,
        feed_autostart=False, **fake.settings(),
    )
    async with client(service) as http:
        r = await http.put("/traders/t1", json={
            "account_id": "a1", "strategy": "ema_cross", "params": {"fast": 2, "slow": 5},
            "symbols": ["BTCUSDT"], "timeframes": ["1m"]})
        assert r.status_code == 200, r.text
        assert (await http.post("/feed/start")).status_code == 202
        await wait_until(lambda: _connected(fake), message="stream connected")
        listed = (await http.get("/signals")).json()
        feed = (await http.get("/feed")).json()
    on_bus = [m for m in await read_stream(bus, s.ALL_SIGNALS) if isinstance(m, SignalDetected)]
    assert on_bus == []
    assert (listed, feed["signals"]) == ([], 0)
