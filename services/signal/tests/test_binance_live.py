"""Live feed and market context against the local fake Binance (real HTTP + WebSocket)."""

from __future__ import annotations

import time

from robson_contracts import Candle, MarketContext, TradeTick
from robson_contracts import subjects as s
from robson_kit.testing import read_stream, wait_until

from .conftest import client
from .fake_binance import FakeBinance, kline_row

STEP = 60_000




def history(fake: FakeBinance, count: int) -> int:
    """``count`` closed 1m klines ending two minutes ago; returns the first open time."""
    now = int(time.time() * 1000) // STEP * STEP
    first = now - (count + 2) * STEP
    fake.klines[("BTCUSDT", "1m")] = [
        kline_row(first + i * STEP, STEP, 100 + i) for i in range(count)
    ]
    return first


async def candles_on_bus(bus) -> list[Candle]:
    return [m for m in await read_stream(bus, s.ALL_CANDLES) if isinstance(m, Candle)]


async def test_dropped_websocket_reconnects_and_gap_is_backfilled_over_rest_in_order(
    fake, bus, make_service
) -> None:
    first = history(fake, 30)
    service = await make_service(
        feed="binance",
        symbols="BTCUSDT",
        timeframes="1m",
        binance_warmup_candles=20,
        **fake.settings(),
    )
    async with client(service) as http:
        await http.put(
            "/traders/t1",
            json={
                "account_id": "a1",
                "strategy": "ema_cross",
                "params": {"fast": 2, "slow": 5},
                "symbols": ["BTCUSDT"],
                "timeframes": ["1m"],
            },
        )

        async def connected(n: int):
            return fake.connections >= n and fake.sockets

        await wait_until(lambda: connected(1), message="stream connected")
        live = [kline_row(first + i * STEP, STEP, 100 + i) for i in range(30, 36)]
        fake.klines[("BTCUSDT", "1m")].append(live[0])
        assert await fake.push_kline("BTCUSDT", "1m", live[0]) == 1
        assert await fake.push_trade("BTCUSDT", 77, "130.5", "0.25", live[0][6]) == 1
        await wait_until(lambda: _count(bus, 1), message="first live candle")

        await fake.drop_sockets()
        fake.klines[("BTCUSDT", "1m")].extend(live[1:5])  # closed while we were disconnected
        await wait_until(lambda: connected(2), timeout=30, message="reconnected")
        fake.klines[("BTCUSDT", "1m")].append(live[5])
        await fake.push_kline("BTCUSDT", "1m", live[5])
        candles = await wait_until(lambda: _count(bus, 6), timeout=20, message="gap backfilled")
        final = candles[-1].close_time.isoformat()

        async def settled():
            body = (await http.get("/feed")).json()
            return body if body["last_event_time"]["BTCUSDT"]["1m"] == final else None

        status = await wait_until(settled, message="last candle stored and counted")
        stored = (
            await http.get("/candles", params={"symbol": "BTCUSDT", "timeframe": "1m"})
        ).json()

    opens = [int(c.open_time.timestamp() * 1000) for c in candles]
    assert opens == [r[0] for r in live]  # warm-up not republished; gap in order, no duplicates
    assert [str(c.close) for c in candles] == [r[4] for r in live]
    gap_requests = [
        q
        for path, q in fake.requests
        if path == "/api/v3/klines" and q.get("startTime") == str(live[1][0])
    ]
    assert gap_requests, "the gap was fetched over REST"
    ticks = [m for m in await read_stream(bus, s.ALL_TICKS) if isinstance(m, TradeTick)]
    assert [(t.trade_id, str(t.price)) for t in ticks] == [("77", "130.5")]
    assert status["state"] == "running" and status["last_event_time"]["BTCUSDT"]["1m"]
    stored_opens = [c["open_time"] for c in stored]
    assert len(stored) == status["candles"] > 6  # warm-up candles stored, not published
    assert stored_opens == sorted(set(stored_opens))
    assert stored[-1]["open_time"] == candles[-1].open_time.isoformat().replace("+00:00", "Z")


async def test_restart_catches_up_missed_candles_from_rest(fake, bus, make_service, schema) -> None:
    first = history(fake, 10)
    service = await make_service(
        feed="binance",
        symbols="BTCUSDT",
        timeframes="1m",
        binance_warmup_candles=5,
        **fake.settings(),
    )
    await wait_until(lambda: _connected(fake), message="stream connected")
    await service.stop()
    missed = [kline_row(first + i * STEP, STEP, 100 + i) for i in range(10, 12)]
    fake.klines[("BTCUSDT", "1m")] = [
        r for r in fake.klines[("BTCUSDT", "1m")] if r[0] < missed[0][0]
    ]
    fake.klines[("BTCUSDT", "1m")] += missed
    fake.klines[("BTCUSDT", "1m")] = fake.klines[("BTCUSDT", "1m")]
    await make_service(
        schema, feed="binance", symbols="BTCUSDT", timeframes="1m", **fake.settings()
    )
    candles = await wait_until(lambda: _count(bus, 2), message="missed candles published")
    assert [int(c.open_time.timestamp() * 1000) for c in candles] == [r[0] for r in missed]


async def test_unreachable_binance_is_reported_in_feed_status(make_service) -> None:
    from robson_kit.embedded import free_port

    port = free_port()
    service = await make_service(
        feed="binance",
        binance_api_url=f"http://127.0.0.1:{port}/api",
        binance_stream_url=f"ws://127.0.0.1:{port}/",
    )
    async with client(service) as http:

        async def unreachable():
            body = (await http.get("/feed")).json()
            return body if body["state"] == "unreachable" else None

        body = await wait_until(unreachable, message="unreachable state")
    assert "Connect" in body["error"] or "connect" in body["error"]


async def test_market_context_is_published_and_stored_once_per_symbol_metric_time(
    fake, bus, make_service
) -> None:
    t = 1714557600000
    fake.premium["BTCUSDT"] = {
        "symbol": "BTCUSDT",
        "markPrice": "64000.10",
        "indexPrice": "63990.00",
        "lastFundingRate": "0.00010000",
        "nextFundingTime": t + 3_600_000,
        "interestRate": "0.0001",
        "time": t,
    }
    fake.open_interest["BTCUSDT"] = {"symbol": "BTCUSDT", "openInterest": "81234.5", "time": t}
    fake.funding["BTCUSDT"] = [
        {
            "symbol": "BTCUSDT",
            "fundingTime": t - 28_800_000,
            "fundingRate": "0.00007",
            "markPrice": "63000",
        }
    ]
    service = await make_service(
        context_symbols="BTCUSDT", context_poll_seconds=0.2, **fake.settings()
    )

    async def polled(n: int):
        return sum(1 for path, _ in fake.requests if path == "/fapi/v1/premiumIndex") >= n

    await wait_until(lambda: polled(3), message="three polls")
    async with client(service) as http:
        rows = (await http.get("/market-context", params={"symbol": "BTCUSDT"})).json()
        status = (await http.get("/feed")).json()
    assert sorted((r["metric"], r["value"]) for r in rows) == [
        ("funding_rate", "0.00007"),
        ("index_price", "63990.00"),
        ("mark_price", "64000.10"),
        ("open_interest", "81234.5"),
        ("predicted_funding_rate", "0.00010000"),
    ]
    assert status["context"]["state"] == "ok"
    contexts = [
        m for m in await read_stream(bus, s.ALL_MARKET_CONTEXT) if isinstance(m, MarketContext)
    ]
    assert len(contexts) == 1  # same time each poll → same message id, deduplicated
    assert (
        str(contexts[0].open_interest) == "81234.5"
        and str(contexts[0].funding_rate) == "0.00010000"
    )


async def _count(bus, n: int) -> list[Candle] | None:
    candles = await candles_on_bus(bus)
    return candles if len(candles) >= n else None


async def _connected(fake: FakeBinance) -> bool:
    return bool(fake.sockets)
