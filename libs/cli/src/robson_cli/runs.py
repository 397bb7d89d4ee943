"""Runs: each `robson up` either continues the previous run or starts a separate one.

A replay or synthetic feed starts again from its first candle, so its run cannot continue
the previous one: the services' event-time calendars (the gate's, position's) would sit at the
previous run's last event while the new candles start days earlier. Such a run starts from
clean trading state: every service schema dropped (migrations recreate them) and every Robson
stream deleted. A Binance (wall-clock) run continues a previous Binance run. The environment —
the virtualenv, downloaded market data, auth keys, reports of earlier runs — is kept.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
import nats
from nats.js.errors import NotFoundError
from robson_contracts.subjects import STREAMS

from robson_cli.services import SERVICES

CONTINUABLE = ("binance",)
"""Feeds that follow the wall clock: a new run on them continues a previous run on the same feed."""
NO_FEED = "none"
"""No market data moves any clock: such a run continues whatever run came before (to inspect it)."""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    feed: str
    started_at: float


def run_state_file(data: Path) -> Path:
    return data / "run-state.json"


def previous_run(data: Path) -> RunInfo | None:
    try:
        doc = json.loads(run_state_file(data).read_text())
        return RunInfo(str(doc["run_id"]), str(doc["feed"]), float(doc["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def continues(previous: RunInfo | None, feed: str) -> bool:
    if previous is None:
        return False
    return feed == NO_FEED or (feed in CONTINUABLE and previous.feed == feed)


def begin_run(data: Path, feed: str, previous: RunInfo | None) -> RunInfo:
    """The run `robson up` starts now (the previous one when it continues), recorded on disk."""
    if continues(previous, feed):
        assert previous is not None
        return previous
    run = RunInfo(time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:4],
                  feed, time.time())
    data.mkdir(parents=True, exist_ok=True)
    run_state_file(data).write_text(json.dumps(asdict(run), indent=2))
    return run


def forget_run(data: Path) -> None:
    run_state_file(data).unlink(missing_ok=True)


def wipe_trading_state(nats_url: str, database_url: str) -> list[str]:
    """Drop every service schema and delete every Robson stream; what was removed."""
    return asyncio.run(_wipe(nats_url, database_url))


async def _wipe(nats_url: str, database_url: str) -> list[str]:
    removed: list[str] = []
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        existing = {r["schema_name"] for r in await conn.fetch(
            "SELECT schema_name FROM information_schema.schemata")}
        for svc in SERVICES:
            if svc.name in existing:
                await conn.execute(f'DROP SCHEMA "{svc.name}" CASCADE')
                removed.append(f"schema {svc.name}")
    finally:
        await conn.close()
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        for spec in STREAMS:
            try:
                await js.delete_stream(spec.name)
                removed.append(f"stream {spec.name}")
            except NotFoundError:
                pass
    finally:
        await nc.close()
    return removed


def has_trading_state(database_url: str) -> bool:
    return asyncio.run(_has_state(database_url))


async def _has_state(database_url: str) -> bool:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        names = [s.name for s in SERVICES]
        found = await conn.fetchval(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ANY($1::text[])", names)
        return bool(found)
    finally:
        await conn.close()
