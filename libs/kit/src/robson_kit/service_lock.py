"""The service lock: a session-level Postgres advisory lock, one per service name and database,
held on a connection of its own (never a pooled one) for as long as the process holds it.

**Key.** ``pg_try_advisory_lock(classid, objid)``, the two-int4 form: its key space is apart
from the one-bigint form the migrations lock with (``pg_advisory_xact_lock(hashtext(schema))``),
so the two never collide. ``classid`` is the kit's constant ``0x524F4253`` ("ROBS");
``objid`` is the first four bytes of SHA-256 of the service name (UTF-8), big-endian, with the
top bit cleared: stable across processes, hosts and versions (Python's ``hash`` is salted per
process; Postgres's ``hashtext`` is internal). Only the name counts, not the schema: the
durable consumers and the venues that two copies would share are named after the service. An
operator finds the holder with ``SELECT * FROM pg_locks JOIN pg_stat_activity USING (pid)
WHERE locktype = 'advisory' AND classid = 1380926035`` (its ``application_name`` is
``<service>-lock@<host>``).

**Tenure.** Each acquisition is numbered in ``<schema>.service_lock_tenure`` (one row per
service, created here on first use, outside the migrations: it is the lock's, not the
models'). A process that gets the lock back after losing it resumes only if the number follows
its own: otherwise another instance held the lock and acted in between, and the process's
in-memory state may miss what it did (``robson_kit.singleton`` then halts it).

**Liveness.** The holder checks its connection every ``check_seconds`` (it must answer within
twice that, and the lock must still be this backend's); the server ends the session after
``5 × check_seconds`` without a check (``idle_session_timeout``, PostgreSQL 14+). So a holder
cut off from the database closes its fence at most ``3 × check_seconds`` after its last check,
before the server frees the lock for a successor. The connection must reach PostgreSQL directly
(or through a session-mode pooler): behind a transaction-mode pooler the first check fails.

**Transactions.** A holder frozen mid-transaction (SIGSTOP, a VM pause, a long GC or swap stall)
loses its lock when its session ends, but its transaction on a pooled connection stays open:
its row locks block the successor (a redelivered message's inbox row) for as long as the freeze
lasts, and once woken it would commit without the lock, behind the back of a successor that
has loaded its state already. So the server aborts any transaction of the service's engine left
idle ``IDLE_TRANSACTION_CHECKS × check_seconds`` (``idle_in_transaction_limit``; PostgreSQL's
``idle_in_transaction_session_timeout``), which ends its connection: a frozen transaction's last
statement came before the freeze, the lock's last check at most about ``check_seconds`` before
it, so the transaction is gone some ``2 × check_seconds`` before the lock can pass
(``5 × check_seconds`` after that check). The woken process finds its COMMIT failed, as after a
dropped connection. Hence no transaction may wait on anything slow (an outside call, a sleep,
another transaction) between two of its statements: that belongs before or after it.

**Commits.** A holder frozen *between* transactions has nothing for the server to abort; woken
after its lock passed, its fence stays open until its next check fails. So every commit of the
service's engine first asks whether the lock was confirmed recently enough
(``robson_kit.commit_guard``): ``confirmed_at`` is when the last successful check, or the
acquisition, was sent, and ``confirm`` checks again now, sharing the check in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
from collections.abc import Callable

import asyncpg
from sqlalchemy.engine import make_url

from robson_kit import logs
from robson_kit.db import check_schema_name

log = logs.get_logger(__name__)

NAMESPACE = 0x524F4253
"""The kit's ``classid`` ("ROBS")."""
TENURE_TABLE = "service_lock_tenure"
SESSION_TIMEOUT_CHECKS = 5
"""The server ends the lock's session after this many missed checks."""
IDLE_TRANSACTION_CHECKS = 2
"""The server aborts a transaction idle for this many check periods. Well below
``SESSION_TIMEOUT_CHECKS`` (see the module's docstring), and as long as the check itself may take
to answer: a process stalled longer than that loses its lock anyway."""
_OWNED = ("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1"
          " AND objid = $2 AND objsubid = 2 AND granted AND pid = pg_backend_pid())")
_HOLDER = ("SELECT a.application_name, l.pid, host(a.client_addr) AS addr, a.backend_start"
           " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
           " WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2"
           " AND l.objsubid = 2 AND l.granted"
           " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")


def lock_key(service: str) -> tuple[int, int]:
    """``(classid, objid)`` of ``service``'s lock (see the module's docstring)."""
    digest = hashlib.sha256(service.encode()).digest()
    return NAMESPACE, int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def lock_time() -> float:
    """The clock a lock's confirmation is dated by (``ServiceLock.confirmed_at``): Linux's
    ``CLOCK_BOOTTIME``, which goes on counting while the host is suspended, where the event
    loop's ``CLOCK_MONOTONIC`` stops — a suspended holder must find its confirmation old when it
    wakes. Elsewhere, the monotonic clock."""
    return time.clock_gettime(_LOCK_CLOCK)


_LOCK_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def idle_in_transaction_limit(check_seconds: float) -> float:
    """Seconds a transaction of the service's engine may wait for its next statement."""
    return IDLE_TRANSACTION_CHECKS * check_seconds


class LockBusy(Exception):
    """Another session holds the lock; the message names it."""


class ServiceLock:
    def __init__(self, service: str, database_url: str, schema: str, check_seconds: float = 2.0,
                 on_lost: Callable[[str], None] | None = None) -> None:
        self.service = service
        self.key = lock_key(service)
        self.dsn = make_url(database_url.replace("postgres://", "postgresql://", 1)).set(
            drivername="postgresql").render_as_string(hide_password=False)
        self.schema = check_schema_name(schema)
        self.check_seconds = check_seconds
        self.on_lost = on_lost
        """Called at once (synchronously) when the held lock can no longer be counted on."""
        self.label = f"{service}-lock@{socket.gethostname()}"[:63]
        self.conn: asyncpg.Connection | None = None
        self.confirmed_at: float | None = None
        """``lock_time()`` at which the last successful check (or the acquisition) was sent: the
        server saw it no earlier, so it cannot free the lock before ``SESSION_TIMEOUT_CHECKS``
        check periods after this."""
        self._lost: asyncio.Future[str] | None = None
        self._checks: asyncio.Task[None] | None = None
        self._confirming: asyncio.Task[bool] | None = None

    async def acquire(self) -> int:
        """One attempt: the lock, and the number of this tenure. Raises ``LockBusy`` while
        another session holds it, or the database's error. Held, it is checked from now on."""
        conn = await asyncpg.connect(self.dsn, timeout=max(5.0, 2 * self.check_seconds),
                                     server_settings={"application_name": self.label})
        try:
            await self._limit_idle_session(conn)
            sent = lock_time()
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *self.key):
                raise LockBusy(await self._holder(conn))
            tenure = await self._next_tenure(conn)
        except BaseException:
            conn.terminate()
            raise
        self.conn, self.confirmed_at = conn, sent
        self._lost = lost = asyncio.get_running_loop().create_future()
        conn.add_termination_listener(lambda _: self._lose(lost, "its database connection closed"))
        self._checks = asyncio.create_task(self._check(conn, lost),
                                           name=f"service_lock_check:{self.service}")
        return tenure

    async def lost(self) -> str:
        """Wait until the held lock can no longer be counted on; say why."""
        if self._lost is None:
            return "not held"
        return await asyncio.shield(self._lost)

    @property
    def held(self) -> bool:
        """Acquired, and not known lost (nothing is checked here)."""
        return self._lost is not None and not self._lost.done()

    @property
    def not_held_because(self) -> str:
        return self._lost.result() if self._lost is not None and self._lost.done() else "not held"

    async def confirm(self) -> bool:
        """Check now that the lock is still this connection's, or wait for the check in flight
        (a connection runs one query at a time; the periodic check and every committer share
        it). True once confirmed (``confirmed_at`` moves on); False when it is not held, or lost
        now (``on_lost`` is told at once)."""
        conn, lost = self.conn, self._lost
        if conn is None or lost is None or lost.done():
            return False
        check = self._confirming
        if check is None:
            check = self._confirming = asyncio.create_task(
                self._confirm(conn, lost), name=f"service_lock_confirm:{self.service}")
            check.add_done_callback(self._confirmed)
        await asyncio.wait((check,))  # a caller cancelled here leaves the check to the others
        return not check.cancelled() and check.result()

    async def release(self) -> None:
        """Give the lock up: closing the session releases it (a connection that does not
        answer is dropped on our side, and its session ends on the server's timeout)."""
        checks, self._checks = self._checks, None
        confirming, self._confirming = self._confirming, None
        for task in (checks, confirming):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._lost is not None:
            self._lose(self._lost, "released")
        self.confirmed_at = None
        conn, self.conn = self.conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=1.0)
        except Exception:  # not answering: dropped on our side
            conn.terminate()
        except asyncio.CancelledError:
            conn.terminate()
            raise

    async def _check(self, conn: asyncpg.Connection, lost: asyncio.Future[str]) -> None:
        while not conn.is_closed():
            await asyncio.sleep(self.check_seconds)
            if not await self.confirm():
                return
        self._lose(lost, "its database connection closed")

    async def _confirm(self, conn: asyncpg.Connection, lost: asyncio.Future[str]) -> bool:
        sent = lock_time()
        try:
            owned = await asyncio.wait_for(conn.fetchval(_OWNED, *self.key), 2 * self.check_seconds)
        except Exception as exc:
            self._lose(lost, f"its database connection failed ({type(exc).__name__})")
            return False
        if not owned:
            self._lose(lost, "its connection no longer holds it")
            return False
        if lost.done():  # its connection closed meanwhile
            return False
        self.confirmed_at = sent
        return True

    def _confirmed(self, check: asyncio.Task[bool]) -> None:
        if self._confirming is check:
            self._confirming = None

    def _lose(self, lost: asyncio.Future[str], reason: str) -> None:
        """Once per tenure (``lost`` is that tenure's): say why, and tell ``on_lost``."""
        if lost.done():
            return
        lost.set_result(reason)
        if self.on_lost is not None and reason != "released":
            self.on_lost(reason)

    async def _limit_idle_session(self, conn: asyncpg.Connection) -> None:
        seconds = self.check_seconds * SESSION_TIMEOUT_CHECKS
        try:
            await conn.execute(f"SET idle_session_timeout = {int(seconds * 1000)}")
        except asyncpg.exceptions.UndefinedObjectError:  # before PostgreSQL 14
            log.warning("service_lock.no_idle_session_timeout", service=self.service)

    async def _holder(self, conn: asyncpg.Connection) -> str:
        row = await conn.fetchrow(_HOLDER, *self.key)
        if row is None:  # released in between: the next attempt will tell
            return f"another instance of {self.service} held the lock a moment ago"
        where = f" from {row['addr']}" if row["addr"] else ""
        since = f" since {row['backend_start']:%Y-%m-%d %H:%M:%S%z}" if row["backend_start"] else ""
        return (f"another instance of {self.service} holds the lock: "
                f"{row['application_name'] or '?'} (pid {row['pid']}{where}{since})")

    async def _next_tenure(self, conn: asyncpg.Connection) -> int:
        table = f'"{self.schema}".{TENURE_TABLE}'
        bump = (f"INSERT INTO {table} AS t (service, tenure, holder) VALUES ($1, 1, $2)"
                " ON CONFLICT (service) DO UPDATE SET tenure = t.tenure + 1,"
                " holder = excluded.holder, acquired_at = now() RETURNING tenure")
        holder = f"{self.label} pid {os.getpid()}"
        try:
            return int(await conn.fetchval(bump, self.service, holder))
        except (asyncpg.exceptions.UndefinedTableError, asyncpg.exceptions.InvalidSchemaNameError):
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}";'
                               f" CREATE TABLE IF NOT EXISTS {table} (service text PRIMARY KEY,"
                               " tenure bigint NOT NULL, holder text NOT NULL,"
                               " acquired_at timestamptz NOT NULL DEFAULT now())")
            return int(await conn.fetchval(bump, self.service, holder))
