"""Infrastructure errors: a dependency being down is not a message's fault.

A consumer that sees one of these errors while handling a message, or any error at all while
opening or committing a batch's transaction, does not count a failed delivery. It confirms with
a probe (a round trip on a pooled connection, which must be able to write): only when the
database really is unreachable, or takes no writes, does it pause. An error that merely *looks*
like an outage (an ``OSError`` from a handler's own HTTP call, a single dropped connection)
while the database answers is treated as the message's failure, so nothing can retry forever
on a misclassified error.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator

import asyncpg
import nats.errors
import nats.js.errors
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from robson_kit.commit_guard import LockNotConfirmed
from robson_kit.db import check_writable

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused / reset / unreachable; TimeoutError is an OSError too
    asyncpg.PostgresConnectionError,  # class 08: connection lost, cannot connect
    asyncpg.exceptions.CannotConnectNowError,  # "the database system is starting up"
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,  # "connection is closed"
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # 25006: a standby reached in a failover
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # pool exhausted: every connection stuck on a dead server
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    # 503 from JetStream: it cannot take a message now, whatever the message (a stream or disk
    # full, "insufficient resources", a cluster without a leader).
    nats.js.errors.ServiceUnavailableError,
    # A commit refused because the service lock could not be confirmed: the process may not act
    # (its fence closes at once), whatever the message or request.
    LockNotConfirmed,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)


SESSION_ENDING_SEVERITIES = frozenset({"FATAL", "PANIC"})
"""Postgres ends the session with every error of these severities (a statement's own failure is
an ERROR): the server refused or dropped the connection, whatever the SQLSTATE says. One with no
class of its own above is ``database "x" is not currently accepting connections`` (55000)."""


def _ends_the_session(err: BaseException) -> bool:
    if not isinstance(err, asyncpg.PostgresError):
        return False
    severity = getattr(err, "severity_en", None) or getattr(err, "severity", None)
    return severity in SESSION_ENDING_SEVERITIES


def is_infrastructure_error(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says a dependency is unreachable."""
    for err in _chain(exc):
        if isinstance(err, INFRASTRUCTURE_ERRORS) or _ends_the_session(err):
            return True
        if isinstance(err, sqlalchemy.exc.DBAPIError) and err.connection_invalidated:
            return True
    return False


def server_refused(exc: BaseException) -> bool:
    """The server answered with an error of its own and the session stands (a constraint, a
    serialization failure): the statement or COMMIT it answered was rolled back, for certain."""
    return not is_infrastructure_error(exc) and any(
        isinstance(err, asyncpg.PostgresError) for err in _chain(exc))


Probe = Callable[[], Awaitable[None]]


def database_probe(sessions: async_sessionmaker[AsyncSession], timeout: float = 3.0) -> Probe:
    async def probe() -> None:
        async def ping() -> None:
            async with sessions() as session:
                await check_writable(session)

        await asyncio.wait_for(ping(), timeout)

    return probe


async def reachable(probe: Probe) -> bool:
    try:
        await probe()
    except Exception:
        return False
    return True


async def wait_until_reachable(
    probe: Probe, base: float = 0.25, cap: float = 5.0, on_attempt: Callable[[int], None] | None = None
) -> None:
    """Probe with exponential backoff (jittered) until the probe passes."""
    attempt = 0
    while not await reachable(probe):
        attempt += 1
        if on_attempt is not None:
            on_attempt(attempt)
        delay = min(cap, base * 2 ** min(attempt, 10))
        await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))


