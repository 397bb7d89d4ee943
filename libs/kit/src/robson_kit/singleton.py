"""At most one process per service against a database.

Every service keeps state in memory and assumes it is the only instance of itself; Kubernetes
does not promise that (a partitioned node's old pod, a copy started by hand). So a service
acts only while it holds its service lock (``robson_kit.service_lock``), and its fence
(``robson_kit.fence``) is open only then:

* at start-up it tries for ``START_GRACE_SECONDS`` (a predecessor's session may still be
  ending); with the lock it migrates, loads its state (``on_start`` hooks), then consumes and
  runs its loops, as before;
* while another process holds the lock it logs who, answers ``/readyz`` with 503 (``lock:
  another instance … holds the lock``), loads nothing, consumes nothing, runs no loop, and tries
  again with backoff; it does all of that once it gets the lock;
* when the lock's connection is lost (a database restart, a network cut, a check that does not
  come back) it closes the fence at once — consumers and loops are cancelled — and goes back to
  acquiring; with the lock again it resumes, on the state it has, if nobody else held the lock
  in between (the tenure number follows its own). If somebody did, its state may miss what that
  instance did: it gives the lock up and halts, and ``/healthz`` answers 503 so that the
  orchestrator restarts it (a fresh start reloads the state).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from robson_kit import logs, metrics
from robson_kit.fence import Fence
from robson_kit.service_lock import LockBusy, ServiceLock

log = logs.get_logger(__name__)
Activate = Callable[[], Awaitable[None]]

START_GRACE_SECONDS = 2.0
"""How long ``start`` tries for the lock before it leaves the waiting to the background."""


class Singleton:
    def __init__(self, lock: ServiceLock, fence: Fence, retry_max_seconds: float = 5.0) -> None:
        self.lock = lock
        lock.on_lost = self._lost
        self.fence = fence
        self.retry_max_seconds = retry_max_seconds
        self.tenure: int | None = None
        self.halted: str | None = None
        """Why this process gave up for good (it must be restarted), or None."""
        self._task: asyncio.Task[None] | None = None
        self._releasing: asyncio.Future[None] | None = None
        self._told = ""

    async def claim(self, grace: float = START_GRACE_SECONDS) -> bool:
        """A new life: try for up to ``grace`` seconds; True once the lock is held."""
        self.tenure, self.halted, self._told = None, None, ""
        self.fence.close("waiting for the service lock")
        loop = asyncio.get_running_loop()
        deadline, attempt = loop.time() + grace, 0
        while not await self._attempt():
            attempt += 1
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(_delay(attempt, 0.5))
        return True

    def keep(self, activate: Activate | None) -> None:
        """Hold the lock from now on, in the background: watch it, take it again when it is
        lost; ``activate`` (when ``claim`` did not get the lock) runs once it is taken."""
        self._task = asyncio.create_task(self._keep(activate),
                                         name=f"service_lock:{self.lock.service}")

    async def stop(self) -> None:
        """Stop keeping the lock (nothing is taken or activated any more); still held."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def release(self, reason: str = "stopped") -> None:
        self.fence.close(reason)
        metrics.SERVICE_LOCK_HELD.labels(self.lock.service).set(0)
        await self.lock.release()

    async def _keep(self, activate: Activate | None) -> None:
        while True:
            if self.fence.held:
                await self.lock.lost()  # the fence closed at that very moment (``_lost``)
            await self.lock.release()  # what is left of a lost tenure, if anything
            attempt = 0
            while not await self._attempt():
                attempt += 1
                await asyncio.sleep(_delay(attempt, self.retry_max_seconds))
            if self.halted:
                return
            if activate is not None:  # the lock is checked meanwhile (however long it takes)
                try:
                    await activate()
                except Exception as exc:
                    return await self._halt(f"start-up failed once the lock was taken: {exc!r}")
                activate = None

    def _lost(self, reason: str) -> None:
        self.fence.close(f"service lock lost: {reason}")  # first: nothing acts from here on
        metrics.SERVICE_LOCK_HELD.labels(self.lock.service).set(0)
        log.error("service.lock_lost", reason=reason, tenure=self.tenure,
                  consequence="consumers and loops stopped until the lock is taken again")

    async def _attempt(self) -> bool:
        """True when there is no point trying again: the lock is held, or this process halted."""
        if self.halted:
            return True
        try:
            tenure = await self.lock.acquire()
        except LockBusy as busy:
            return self._waiting(str(busy))
        except Exception as exc:  # unreachable, refusing connections, read-only, …
            return self._waiting(f"waiting for the service lock: database unreachable or "
                                 f"read-only ({type(exc).__name__}: {exc})"[:300])
        previous, self.tenure = self.tenure, tenure
        if previous is not None and tenure != previous + 1:
            await self._halt(
                f"another instance of {self.lock.service} held the lock while this one was cut "
                f"off (tenure {previous}, now {tenure}): this process's state may miss what it "
                "did, so it stops here and must be restarted")
            return True
        self.fence.open()
        metrics.SERVICE_LOCK_HELD.labels(self.lock.service).set(1)
        log.info("service.lock_acquired", tenure=tenure, resumed=previous is not None,
                 waited_for=self._told or None)
        self._told = ""
        return True

    def _waiting(self, reason: str) -> bool:
        self.fence.close(reason)
        if reason != self._told:
            self._told = reason
            log.warning("service.lock_waiting", reason=reason,
                        meanwhile="not ready; consuming nothing, running no loop; retrying")
        return False

    async def _halt(self, reason: str) -> None:
        self.halt(reason)
        if self._releasing is not None:
            await self._releasing

    def halt(self, reason: str) -> None:
        """Halt now, from anywhere (a commit's outcome unknown, ``Service.restart``): the fence
        closes at once and stays closed, and the lock is given up in the background."""
        if self.halted:
            return
        self.halted = reason
        self.fence.close(f"halted: {reason}")
        log.error("service.halted", reason=reason)
        self._releasing = asyncio.ensure_future(self.release(f"halted: {reason}"))


def _delay(attempt: int, cap: float) -> float:
    delay = min(cap, 0.25 * 2 ** min(attempt, 10))
    return delay / 2 + random.uniform(0, delay / 2)
