"""The commit guard: a service's transaction commits only while its service lock is known to be
held, recently enough that it cannot have passed to another instance before the COMMIT lands.

A holder frozen *between* transactions (SIGSTOP, a VM pause) for longer than its lock's session
timeout has no transaction for the server to abort (``robson_kit.service_lock``): the lock passes
to a successor. Woken, the process's fence stays open until its next check fails — up to two
check periods when the lock's connection is silent (a network path dropping everything, no FIN
or RST) — while its engine's connections work: its consumers and routes would begin and commit
new transactions on an in-memory state the successor has moved past. So every COMMIT of the
service's engine is preceded by ``CommitGuard.confirm``.

**Bound.** With ``c`` = ``check_seconds``: ``confirmed_at`` is when the last successful check (or
the acquisition) was *sent*, so the server cannot free the lock before ``confirmed_at + 5c``
(``SESSION_TIMEOUT_CHECKS``). The guard passes at ``g``; the transaction's last statement ended
on the server before ``g``, and the server aborts a transaction idle ``2c``
(``IDLE_TRANSACTION_CHECKS``): its COMMIT, sent after ``g``, lands before ``g + 2c`` or finds the
transaction aborted. With ``g - confirmed_at < MAX_CONFIRMATION_AGE_CHECKS × c`` = ``2c`` that is
before ``confirmed_at + 4c``: the lock is still ours, with one check period of margin (latency,
timer slack). A transaction that lifts the idle limit (``uow.lift_idle_limit``) is outside this
bound: it must write nothing.

**Cost.** The periodic check confirms every ``c``, so the guard normally finds the confirmation
fresh and returns at once: no I/O, no round trip. Stale, it checks now on the lock's connection
(joining a check in flight), bounded like the periodic check (``2c``): confirmed, the commit
proceeds; not, the lock is lost (the fence closes) and the commit is refused with
``LockNotConfirmed``, an infrastructure error (``robson_kit.outage``): a consumer holds its batch
uncounted, a route answers 503.

**Commits that write nothing** need no lock: a read route of an instance that lost its lock for
a moment keeps answering from the database as from memory (``app._serving``). Only when the
confirmation is stale does SQLAlchemy's commit first ask the transaction whether it has a
transaction id (``txid_current_if_assigned()``, one round trip): without one it wrote nothing
and may commit.

**Armed** only while the service runs (``Service.start`` to ``stop``): a service never started
(its routes or ``uow`` driven by a test alone) is not fenced either. An engine without a service
lock (CLI tools, the backtest, tests building engines) has no guard at all.

**Clock.** ``service_lock.lock_time`` (``CLOCK_BOOTTIME`` on Linux): a SIGSTOP and a host
suspend count. A pause the guest's clocks do not see at all (a hypervisor that stops them while
the VM is paused) is not covered by the bound above; the server-side limits still are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_

from robson_kit import logs
from robson_kit.service_lock import (
    IDLE_TRANSACTION_CHECKS,
    SESSION_TIMEOUT_CHECKS,
    ServiceLock,
    lock_time,
)

log = logs.get_logger(__name__)

MARGIN_CHECKS = 1
MAX_CONFIRMATION_AGE_CHECKS = SESSION_TIMEOUT_CHECKS - IDLE_TRANSACTION_CHECKS - MARGIN_CHECKS
"""A confirmation older than this many check periods is checked again before a commit (2:
see the module's docstring)."""
_WROTE = "SELECT txid_current_if_assigned() IS NOT NULL"
_GUARDS: WeakKeyDictionary[Engine, CommitGuard] = WeakKeyDictionary()


class LockNotConfirmed(Exception):
    """A commit refused: the service lock could not be confirmed (lost, or never held)."""


class CommitGuard:
    def __init__(self, lock: ServiceLock) -> None:
        self.lock = lock
        self.armed = False

    @property
    def max_age(self) -> float:
        return MAX_CONFIRMATION_AGE_CHECKS * self.lock.check_seconds

    def fresh(self) -> bool:
        confirmed_at = self.lock.confirmed_at
        return (self.lock.held and confirmed_at is not None
                and lock_time() - confirmed_at < self.max_age)

    def needless(self) -> bool:
        """No confirmation needed: not armed, or a fresh one in hand."""
        return not self.armed or self.fresh()

    async def confirm(self, wrote: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Return once a COMMIT may follow; raise ``LockNotConfirmed`` if none may. ``wrote``:
        asked (only when a check would be needed) whether the transaction wrote anything."""
        if self.needless():
            return
        if wrote is not None and not await wrote():
            return
        while not self.fresh():  # a check sent before a freeze may answer after it: too old
            if not await self.lock.confirm():
                reason = self.lock.not_held_because
                log.warning("service.commit_refused", reason=reason)
                raise LockNotConfirmed(f"commit refused: the service lock of "
                                       f"{self.lock.service} is not confirmed ({reason})")


def install(engine: AsyncEngine, guard: CommitGuard) -> None:
    """Guard every commit of ``engine``: SQLAlchemy's and the kit's own (``robson_kit.rawtx``).

    SQLAlchemy's commits go through the engine's dialect's ``do_commit``, wrapped here (the
    dialect is the engine's own). Its ``commit`` event would do as well, but any listener on
    an engine turns on its event dispatch for every statement: some 90 more Python calls per
    transaction, 5% of a small commit's CPU. ``do_commit`` runs inside SQLAlchemy's greenlet,
    where the guard may be awaited (``await_``); it raises before anything is sent, and the
    transaction is then rolled back as after any failed commit."""
    _GUARDS[engine.sync_engine] = guard
    dialect = engine.sync_engine.dialect
    commit = dialect.do_commit

    def guarded_commit(pooled: Any) -> None:
        if not guard.needless():  # the common case: no coroutine, no switch out of the greenlet
            adapted = getattr(pooled, "dbapi_connection", pooled)
            transaction = getattr(adapted, "_transaction", None)
            # None: nothing was begun; ``ended``: the kit has committed it already (rawtx)
            if transaction is not None and not getattr(transaction, "ended", False):
                driver = adapted.driver_connection
                await_(guard.confirm(lambda: _wrote(driver)))
        commit(pooled)

    dialect.do_commit = guarded_commit  # type: ignore[method-assign]


def guard_of(engine: Engine) -> CommitGuard | None:
    return _GUARDS.get(engine)


async def _wrote(driver: Any) -> bool:
    try:
        return bool(await driver.fetchval(_WROTE))
    except Exception:  # a failed transaction (its COMMIT rolls back) or a dead connection
        return True  # in doubt: confirm the lock
