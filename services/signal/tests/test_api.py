"""HTTP API on real NATS + Postgres: bindings, external webhook, signals, candles, status."""

from __future__ import annotations

from robson_contracts import SignalDetected, SignalOrigin
from robson_contracts import subjects as s
from robson_kit.testing import read_stream, wait_until

from .conftest import client

BINDING = {
    "account_id": "acc1",
    "strategy": "ema_cross",
    "params": {"fast": 3, "slow": 8},
    "symbols": ["BTCUSDT"],
    "timeframes": ["1m"],
    "webhook_secret": "s3cret-value",
}
ALERT = {
    "id": "tv-1",
    "trader_id": "t1",
    "secret": "s3cret-value",
    "symbol": "BINANCE:BTCUSDT",
    "action": "buy",
    "price": 64000.5,
    "time": "2024-05-01T10:00:00Z",
}


async def test_put_trader_is_idempotent_and_never_returns_the_secret(make_service) -> None:
    service = await make_service()
    async with client(service) as http:
        first = await http.put("/traders/t1", json=BINDING)
        second = await http.put("/traders/t1", json=BINDING)
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        assert first.json()["webhook_enabled"] is True and "s3cret" not in first.text
        assert [t["trader_id"] for t in (await http.get("/traders")).json()] == ["t1"]
        assert (await http.get("/traders/nobody")).status_code == 404
        names = [st["name"] for st in (await http.get("/strategies")).json()]
        assert names == ["donchian_breakout", "ema_cross", "rsi_mean_reversion"]


async def test_an_account_scoped_admin_binds_traders_in_its_own_accounts_only(make_service) -> None:
    from robson_kit.testing import auth_headers

    service = await make_service()
    scoped = auth_headers("admin", accounts=["acc2"])
    async with client(service) as http:
        assert (await http.put("/traders/t1", json=BINDING)).status_code == 200  # acc1's
        elsewhere = await http.put("/traders/t9", json=BINDING, headers=scoped)
        assert elsewhere.status_code == 404  # binding a trader to acc1 from an acc2 token
        taken = await http.put("/traders/t1", json={**BINDING, "account_id": "acc2"}, headers=scoped)
        assert taken.status_code == 404 and "acc1" not in taken.text  # re-homing acc1's trader
        own = await http.put("/traders/t2", json={**BINDING, "account_id": "acc2"}, headers=scoped)
        assert own.status_code == 200
        bound = {t["trader_id"]: t["account_id"] for t in (await http.get("/traders")).json()}
        assert bound == {"t1": "acc1", "t2": "acc2"}


async def test_put_trader_with_bad_strategy_or_params_is_422_and_changes_nothing(
    make_service,
) -> None:
    service = await make_service()
    async with client(service) as http:
        unknown = await http.put("/traders/t1", json={**BINDING, "strategy": "magic"})
        assert unknown.status_code == 422 and "unknown strategy 'magic'" in unknown.text
        bad = await http.put("/traders/t1", json={**BINDING, "params": {"fast": 9, "slow": 3}})
        assert bad.status_code == 422 and "fast must be smaller than slow" in bad.text
        no_symbols = await http.put("/traders/t1", json={**BINDING, "symbols": []})
        assert no_symbols.status_code == 422
        assert (await http.get("/traders")).json() == []


async def test_bindings_survive_a_restart(make_service, schema) -> None:
    service = await make_service()
    async with client(service) as http:
        await http.put("/traders/t1", json=BINDING)
    await service.stop()
    again = await make_service(schema)
    async with client(again) as http:
        assert (await http.get("/traders/t1")).json()["strategy"] == "ema_cross"


async def test_webhook_signal_is_published_once_even_when_posted_twice(bus, make_service) -> None:
    service = await make_service()
    async with client(service) as http:
        await http.put("/traders/t1", json=BINDING)
        first = await http.post("/signals", json=ALERT)
        again = await http.post("/signals", json=ALERT)
        assert first.status_code == 202 and again.status_code == 200
        assert again.json() == {"status": "duplicate", "signal_id": first.json()["signal_id"]}
        listed = (
            await http.get("/signals", params={"trader_id": "t1", "origin": "EXTERNAL"})
        ).json()
        assert [x["signal_id"] for x in listed] == [first.json()["signal_id"]]

    async def published() -> list[SignalDetected]:
        return await read_stream(bus, s.ALL_SIGNALS)

    signals = await wait_until(published, message="external signal on the bus")
    assert len(signals) == 1
    sig = signals[0]
    assert (sig.symbol, sig.direction.value, str(sig.price), sig.origin) == (
        "BTCUSDT",
        "LONG",
        "64000.5",
        SignalOrigin.EXTERNAL,
    )
    assert sig.account_id == "acc1" and sig.timeframe.value == "1m"
    assert sig.occurred_at.isoformat() == "2024-05-01T10:00:00+00:00"


async def test_webhook_with_bad_secret_bad_json_or_bad_fields_is_rejected_clearly(
    bus, make_service
) -> None:
    service = await make_service()
    async with client(service) as http:
        await http.put("/traders/t1", json=BINDING)
        await http.put(
            "/traders/t2", json={k: v for k, v in BINDING.items() if k != "webhook_secret"}
        )
        wrong = await http.post("/signals", json={**ALERT, "secret": "guess-guess"})
        assert wrong.status_code == 404
        header = await http.post(
            "/signals",
            json={k: v for k, v in ALERT.items() if k != "secret"},
            headers={"X-Robson-Secret": "s3cret-value"},
        )
        assert header.status_code == 202
        disabled = await http.post("/signals", json={**ALERT, "trader_id": "t2", "id": "x"})
        unknown = await http.post("/signals", json={**ALERT, "trader_id": "ghost"})
        # nothing to probe: unknown trader, wrong secret, disabled webhook answer the same
        assert disabled.status_code == unknown.status_code == 404
        assert wrong.json() == disabled.json() == unknown.json()
        broken = await http.post(
            "/signals",
            content=b'{"id": "tv-2", "trader_id": ',
            headers={"content-type": "application/json"},
        )
        assert broken.status_code == 400 and "not valid JSON" in broken.text
        bad_fields = await http.post(
            "/signals", json={**ALERT, "id": "tv-3", "action": "moon", "price": "-1"}
        )
        assert bad_fields.status_code == 422
        fields = {e["field"] for e in bad_fields.json()["detail"]}
        assert {"action", "price"} <= fields
        listed = (await http.get("/signals")).json()
    assert len(listed) == 1  # only the header-authenticated one


async def test_synthetic_feed_stores_candles_served_by_the_candle_api(make_service) -> None:
    service = await make_service(
        feed="synthetic",
        symbols="BTCUSDT,ETHUSDT",
        timeframes="1m",
        synthetic_candles=50,
        synthetic_seed=5,
    )
    async with client(service) as http:

        async def finished():
            return (await http.get("/feed")).json()["finished"]

        await wait_until(finished, message="synthetic feed finished")
        status = (await http.get("/feed")).json()
        assert status["mode"] == "synthetic" and status["candles"] == 100
        assert set(status["last_event_time"]) == {"BTCUSDT", "ETHUSDT"}
        page = (
            await http.get(
                "/candles",
                params={
                    "symbol": "ETHUSDT",
                    "timeframe": "1m",
                    "start": "2024-01-01T00:10:00Z",
                    "limit": 5,
                },
            )
        ).json()
        assert [c["open_time"] for c in page] == [f"2024-01-01T00:{m}:00Z" for m in range(10, 15)]
        assert all(c["source"] == "SYNTHETIC" and c["closed"] for c in page)
        bad = await http.get("/candles", params={"symbol": "btc usdt", "timeframe": "7m"})
        assert bad.status_code == 422


async def test_webhook_beyond_the_per_trader_rate_gets_429_with_retry_after(bus, make_service) -> None:
    service = await make_service(auth_write_rate_per_minute=2)
    async with client(service) as http:
        await http.put("/traders/t1", json=BINDING)
        codes = [(await http.post("/signals", json={**ALERT, "secret": f"guess-{i}"})).status_code
                 for i in range(3)]
        assert codes[:2] == [404, 404] and codes[2] == 429  # guessing secrets is slowed down
        limited = await http.post("/signals", json={**ALERT, "id": "tv-9"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        other = await http.post("/signals", json={**ALERT, "trader_id": "ghost"})
        assert other.status_code == 404  # another trader has its own budget


async def test_webhook_refuses_an_oversized_body_before_reading_it_all(make_service) -> None:
    """An open route: any caller could make the service buffer and parse a body of any size."""
    service = await make_service()
    async with client(service) as http:
        await http.put("/traders/t1", json=BINDING)
        huge = await http.post("/signals", json={**ALERT, "id": "big", "features": {
            f"f{i}": "1" for i in range(200_000)}})
        assert huge.status_code == 413, huge.status_code
        assert (await http.post("/signals", json=ALERT)).status_code == 202
