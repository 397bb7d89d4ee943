from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from robson_contracts import Message, decode
from robson_contracts.subjects import STREAMS, StreamSpec
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from robson_kit.bus import Bus
from robson_kit.db import make_engine
from robson_kit.testing.auth import ADMIN_HEADERS


def unique_schema(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def drop_schema(database_url: str, schema: str) -> None:
    engine = make_engine(database_url, schema, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


async def reset_streams(bus: Bus) -> None:
    """Delete every Robson stream (and so every consumer) and create them afresh."""
    for spec in STREAMS:
        try:
            await bus.js.delete_stream(spec.name)
        except NotFoundError:
            pass
    await bus.ensure_streams()


async def read_stream(
    bus: Bus, subject: str, stream: StreamSpec | None = None, raw: bool = False
) -> list[Any]:
    """Every message currently stored under ``subject`` (a filter), decoded, in stream order."""
    spec = stream or next(s for s in STREAMS if _covers(s, subject))
    info = await bus.js.stream_info(spec.name)
    if info.state.messages == 0:
        return []
    name = f"reader_{uuid.uuid4().hex[:8]}"
    await bus.js.add_consumer(
        spec.name,
        ConsumerConfig(name=name, ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                       filter_subject=subject, inactive_threshold=30),
    )
    sub = await bus.js.pull_subscribe_bind(name, stream=spec.name)
    out: list[Any] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(256, timeout=0.3)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            for m in msgs:
                out.append(m if raw else decode(m.data))
            if msgs and (msgs[-1].metadata.num_pending or 0) == 0:
                break
    finally:
        await sub.unsubscribe()
        try:
            await bus.js.delete_consumer(spec.name, name)
        except Exception:
            pass
    return out


def _covers(spec: StreamSpec, subject: str) -> bool:
    return any(subject.startswith(s.rstrip(">").rstrip(".")) for s in spec.subjects)


async def wait_until(
    predicate: Callable[[], Awaitable[Any] | Any], timeout: float = 20.0, interval: float = 0.1,
    message: str = "condition",
) -> Any:
    """Poll a predicate (async, or a plain function of in-memory state) until it returns
    something truthy; fail loudly on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = predicate()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")


def messages_of(messages: list[Message], cls: type[Message]) -> list[Any]:
    return [m for m in messages if isinstance(m, cls)]


def asgi_client(service: Any, base_url: str = "http://service",
                headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An HTTP client on a started service's app, in-process (the test owns the lifecycle);
    authenticated as admin unless ``headers`` say otherwise."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app(manage_lifecycle=False)), base_url=base_url,
        headers=ADMIN_HEADERS if headers is None else headers,
    )


@asynccontextmanager
async def service_starter(
    build: Callable[..., Any], settings: Callable[..., Any]
) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Yields ``start(*args, **overrides)``: builds ``build(settings(*args, **overrides))``,
    starts it, and stops every service it started when the block ends."""
    started: list[Any] = []

    async def start(*args: Any, **overrides: Any) -> Any:
        service = build(settings(*args, **overrides))
        await service.start()
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            if service.started:
                await service.stop()


async def open_batch_transactions(database_url: str, schema: str) -> int:
    """The service's backends waiting inside a transaction that has written something, but for
    the outbox relay's (its statements name the outbox, or turn fsync off: only the relay does):
    a consumer batch. A transaction without a transaction id holds nothing: a new pool
    connection's set-up queries (``show standard_conforming_strings``…) run in one whenever the
    pool grows. A batch has written from its first statement on (the kit sends its BEGIN with
    the inbox insert, as one query)."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return len(await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1"
            " AND state = 'idle in transaction' AND backend_xid IS NOT NULL"
            " AND query NOT ILIKE '%outbox%' AND query NOT ILIKE '%synchronous_commit%'", schema))
    finally:
        await conn.close()


def log_queries(engine: AsyncEngine) -> list[str]:
    """Every query text the engine's connections send from now on, in order (asyncpg's query
    logger on each new connection): to see which statements travel in one round trip."""
    executed: list[str] = []

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda q: executed.append(q.query))

    event.listen(engine.sync_engine, "connect", on_connect)
    return executed
