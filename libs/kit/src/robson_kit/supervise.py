"""Supervised background loops: restarted with backoff on any error, counted, and reported to
readiness by name while they keep failing.

A loop that returns normally is finished (a one-shot start-up task) and is not restarted. A
loop is *failing* once it has failed ``failing_after`` times in a row without running cleanly
for ``healthy_after`` seconds in between; ``/readyz`` then names it.

With a ``fence`` (a service's: ``robson_kit.singleton``) every loop runs only while the fence
is open: it is cancelled when the fence closes (not counted as a failure, but ``failing``
names it, fenced, until the fence opens) and starts again from its top when it opens. The task
``spawn`` returns stays the same throughout.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from robson_kit import logs
from robson_kit.fence import Fence, Fenced

log = logs.get_logger(__name__)

LOOP_RESTARTS = Counter(
    "robson_loop_restarts_total", "Background loop failures (each followed by a restart)",
    ["service", "loop"],
)
LOOP_FAILING = Gauge(
    "robson_loop_failing", "1 while a background loop keeps failing", ["service", "loop"]
)

LoopFactory = Callable[[], Awaitable[None]]


@dataclass
class LoopState:
    name: str
    consecutive_failures: int = 0
    last_error: str = ""
    running_since: float = 0.0
    finished: bool = False
    fenced: bool = False
    """Runs only while the supervisor's fence is open."""


class Supervisor:
    def __init__(
        self,
        service: str,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        failing_after: int = 3,
        healthy_after: float = 60.0,
        fence: Fence | None = None,
    ) -> None:
        self.service = service
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.failing_after = failing_after
        self.healthy_after = healthy_after
        self.fence = fence
        self.loops: dict[str, LoopState] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, name: str, factory: LoopFactory, fenced: bool = True) -> asyncio.Task[None]:
        """Run ``factory()`` under supervision; ``name`` must be unique within the service.
        ``fenced=False``: the loop runs whatever the fence, for loops that act on nothing (that
        keep a read-only mirror current, like the token revocation list)."""
        if name in self._tasks and not self._tasks[name].done():
            raise ValueError(f"loop {name!r} is already running")
        fence = self.fence if fenced else None
        state = self.loops[name] = LoopState(name, fenced=fence is not None)
        task = asyncio.create_task(self._supervise(state, factory, fence), name=f"loop:{name}")
        self._tasks[name] = task
        return task

    def failing(self) -> dict[str, str]:
        """Loops not doing their work: those that keep failing, with their last error, and,
        while the fence is closed, the fenced ones, with why."""
        now = asyncio.get_running_loop().time()
        failing = {
            s.name: s.last_error
            for s in self.loops.values()
            if s.consecutive_failures >= self.failing_after
            and now - s.running_since < self.healthy_after
        }
        if self.fence is not None and not self.fence.held:
            failing.update({s.name: f"fenced: {self.fence.reason}" for s in self.loops.values()
                            if s.fenced and not s.finished})
        return failing

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _supervise(self, state: LoopState, factory: LoopFactory, fence: Fence | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if fence is not None:
                await fence.wait_held()
            started = state.running_since = loop.time()
            try:
                await (factory() if fence is None else fence.while_held(factory))
            except asyncio.CancelledError:
                raise
            except Fenced as fenced:
                log.warning("loop.fenced", loop=state.name, reason=str(fenced))
                continue
            except Exception as exc:
                if loop.time() - started >= self.healthy_after:
                    state.consecutive_failures = 0
                state.consecutive_failures += 1
                state.last_error = f"{type(exc).__name__}: {exc}"[:300]
                LOOP_RESTARTS.labels(self.service, state.name).inc()
                failing = state.consecutive_failures >= self.failing_after
                LOOP_FAILING.labels(self.service, state.name).set(1 if failing else 0)
                delay = self._delay(state.consecutive_failures)
                log.error("loop.failed", loop=state.name, error=state.last_error,
                          failures=state.consecutive_failures, restart_in=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            state.finished = True
            state.consecutive_failures = 0
            LOOP_FAILING.labels(self.service, state.name).set(0)
            return

    def _delay(self, failures: int) -> float:
        cap = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
        return cap / 2 + random.uniform(0, cap / 2)
