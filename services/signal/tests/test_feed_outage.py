"""The replay feed through a database outage (connections refused, open ones cut): it stops —
retrying its step, or fenced once the service lock's connection is cut (``robson_kit.
singleton``) — its supervised loop is named as not working, and once the database is back it
goes on from where it stopped — every candle published and stored once, and the same signals as
an uninterrupted replay."""

from __future__ import annotations

from robson_contracts import Candle
from robson_contracts import subjects as s
from robson_kit.testing import read_stream, reset_streams, unique_schema, wait_until
from robson_kit.testing.outage import outage_database
from robson_signal.main import build_service

from .conftest import REAL_FILE, client, signal_settings
from .test_replay_nats import BINDINGS, replay_once


async def test_replay_through_database_outage_resumes_without_skipping_or_repeating_a_candle(
    bus, make_service, nats_url, database_url
) -> None:
    reference = sorted(x.signal_id for x in await replay_once(bus, make_service, unique_schema()))
    await reset_streams(bus)

    async with outage_database(database_url) as db:
        service = build_service(signal_settings(
            nats_url, db.url, unique_schema(), feed="replay", replay_path=str(REAL_FILE),
            replay_speed="20000", feed_autostart=False))
        pipeline = service.deps.pipeline
        pipeline.step_attempts, pipeline.retry_base = 2, 0.05
        await service.start()
        try:
            async with client(service) as http:
                for trader, body in BINDINGS.items():
                    assert (await http.put(f"/traders/{trader}", json=body)).status_code == 200
                assert (await http.post("/feed/start")).status_code == 202

                async def feed(pred):  # type: ignore[no-untyped-def]
                    body = (await http.get("/feed")).json()
                    return body if pred(body) else None

                await wait_until(lambda: feed(lambda b: b["candles"] >= 60), message="replay under way")
                await db.begin()
                await wait_until(lambda: _failing(service), message="run_feed named as not working")
                stalled = (await http.get("/feed")).json()
                assert not stalled["finished"] and stalled["candles"] < 400
                await db.end()
                done = await wait_until(lambda: feed(lambda b: b["finished"]), timeout=90,
                                        message="replay finished after the outage")
                assert done["candles"] == 400 and done["error"] is None
                stored = (await http.get("/signals", params={"limit": 10000})).json()
        finally:
            await service.stop()

    candles = [m for m in await read_stream(bus, "robson.market.>") if isinstance(m, Candle)]
    assert len(candles) == 400
    assert [c.open_time for c in candles] == sorted({c.open_time for c in candles})
    signals = sorted(x.signal_id for x in await read_stream(bus, s.ALL_SIGNALS))
    assert signals == reference
    assert sorted(x["signal_id"] for x in stored) == reference


async def _failing(service) -> bool:  # type: ignore[no-untyped-def]
    return "run_feed" in service.supervisor.failing()


async def test_replay_restarted_on_its_schema_resumes_after_the_stored_candles(
    bus, make_service, nats_url, database_url
) -> None:
    reference = sorted(x.signal_id for x in await replay_once(bus, make_service, unique_schema()))
    await reset_streams(bus)
    schema = unique_schema()
    settings = dict(feed="replay", replay_path=str(REAL_FILE), replay_speed="20000",
                    feed_autostart=False)
    first = await make_service(schema, **settings)
    async with client(first) as http:
        for trader, body in BINDINGS.items():
            assert (await http.put(f"/traders/{trader}", json=body)).status_code == 200
        assert (await http.post("/feed/start")).status_code == 202
        await wait_until(lambda: _candles_at_least(http, 150), message="first life under way")
    await first.stop()
    first_candles = _candles(await read_stream(bus, "robson.market.>"))
    first_signals = {x.signal_id for x in await read_stream(bus, s.ALL_SIGNALS)}
    await reset_streams(bus)

    second = await make_service(schema, **{**settings, "replay_speed": "max"})
    async with client(second) as http:
        assert (await http.post("/feed/start")).status_code == 202
        done = await wait_until(lambda: _finished(http), timeout=60, message="second life done")
    second_candles = _candles(await read_stream(bus, "robson.market.>"))
    second_signals = {x.signal_id for x in await read_stream(bus, s.ALL_SIGNALS)}
    assert done["candles"] == 400
    assert 0 < len(second_candles) < 400 - 100
    assert set(first_candles) | set(second_candles) == set(_all_open_times())
    assert len(set(first_candles) & set(second_candles)) <= 1  # at most one published, not stored
    assert sorted(first_signals | second_signals) == reference


def _candles(messages) -> list:  # type: ignore[no-untyped-def]
    return [m.open_time for m in messages if isinstance(m, Candle)]


def _all_open_times() -> list:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime
    rows = REAL_FILE.read_text().splitlines()
    return [datetime.fromtimestamp(int(r.split(",")[0]) / 1000, UTC) for r in rows]


async def _candles_at_least(http, n: int) -> bool:  # type: ignore[no-untyped-def]
    return (await http.get("/feed")).json()["candles"] >= n


async def _finished(http):  # type: ignore[no-untyped-def]
    body = (await http.get("/feed")).json()
    return body if body["finished"] else None
