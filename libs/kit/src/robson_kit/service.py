"""Service runtime: wires settings, database, migrations, bus, consumers, relay and HTTP."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Generic, NoReturn

from fastapi import APIRouter, FastAPI
from typing_extensions import TypeVar

from robson_kit import faults, logs, migrations
from robson_kit.app import create_app
from robson_kit.bus import Bus
from robson_kit.clock import Clock, WallClock
from robson_kit.commit_guard import CommitGuard, install
from robson_kit.consumer import Consumer, ConsumerSpec
from robson_kit.db import make_engine, make_sessionmaker, ping
from robson_kit.fence import Fence
from robson_kit.http_server import QuietServer, serve
from robson_kit.outbox import OutboxRelay
from robson_kit.service_lock import ServiceLock, idle_in_transaction_limit
from robson_kit.settings import ServiceSettings
from robson_kit.singleton import Singleton
from robson_kit.supervise import LoopFactory, Supervisor
from robson_kit.uow import CommitDoubt, UnitOfWorkFactory

DepsT = TypeVar("DepsT", default=Any)  # a service built without deps is a Service[Any]
Hook = Callable[["Service[Any]"], Awaitable[None]]
log = logs.get_logger(__name__)

HTTP_GRACE_SECONDS = 5.0
"""On SIGTERM, how long in-flight requests may finish before uvicorn cancels them and the
service stops. Without a bound an open stream (the dashboard's /api/stream in a browser tab,
position's /stream) holds uvicorn's shutdown forever: ``stop()`` never runs and the pod is
SIGKILLed at the end of its grace period, mid-batch."""


async def _bounded(awaitable: Awaitable[Any], what: str, seconds: float = 10.0) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout=seconds)
    except TimeoutError:
        log.error("service.stop_step_timed_out", step=what, seconds=seconds)
    except Exception as exc:
        log.warning("service.stop_step_failed", step=what, error=repr(exc))


class Service(Generic[DepsT]):
    """One service process. Subclass or compose: pass consumers, routers and hooks.

    ``on_start`` hooks run after migrations and bus connection, before consumers start (load
    state, provision extras); ``background`` hooks run as tasks for the service's life.
    All of that happens only while this process holds its service lock: at most one process per
    service acts against a database (``robson_kit.singleton``); consumers and supervised loops
    stop whenever the lock is lost.
    ``deps`` holds the service's own collaborators, typed by ``DepsT``: given to the
    constructor, or set later (by an ``on_start`` hook when building them needs the service).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        migrations_dir: Path,
        consumers: list[ConsumerSpec] | None = None,
        routers: list[APIRouter] | None = None,
        on_start: list[Hook] | None = None,
        on_stop: list[Hook] | None = None,
        background: list[Hook] | None = None,
        clock: Clock | None = None,
        deps: DepsT | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.migrations_dir = migrations_dir
        self.consumer_specs = list(consumers or [])
        self.routers = list(routers or [])
        self.on_start = list(on_start or [])
        self.on_stop = list(on_stop or [])
        self.background = list(background or [])
        self.clock: Clock = clock or WallClock()
        self.engine = make_engine(settings.database_url, settings.db_schema, settings.db_pool_size,
                                  idle_in_transaction_limit(settings.lock_check_seconds))
        self.sessions = make_sessionmaker(self.engine)
        self.bus = Bus(settings.nats_url, name=self.name)
        self.relay = OutboxRelay(self.engine, self.bus, self.name, settings.outbox_poll_seconds)
        self.uow = UnitOfWorkFactory(self.sessions, self.clock, on_committed=self.relay.publish_committed,
                                     on_commit_in_doubt=self.commit_in_doubt)
        self.consumers: list[Consumer] = []
        self._deps = deps
        self.fence = Fence()
        self.singleton = Singleton(
            ServiceLock(self.name, settings.lock_database_url or settings.database_url,
                        settings.db_schema, settings.lock_check_seconds),
            self.fence, settings.lock_retry_max_seconds)
        self.commit_guard = CommitGuard(self.singleton.lock)
        """Every commit of the engine proves the lock is held first, from ``start`` to ``stop``
        (``robson_kit.commit_guard``)."""
        install(self.engine, self.commit_guard)
        self.supervisor = Supervisor(self.name, fence=self.fence)
        self.started = False
        self.restarting = False
        """``restart`` was asked: under ``run`` the process executes itself anew once stopped."""
        self._server: QuietServer | None = None
        """The HTTP server ``run`` serves with (None when the service is driven otherwise)."""
        self.activated = False
        """Start-up ran to its end under the lock (migrated, state loaded, consuming): until
        then the fence may be open (the lock is held) while the routes' state is still empty."""

    @property
    def deps(self) -> DepsT:
        if self._deps is None:
            raise RuntimeError(f"service {self.name} has no deps: pass deps= or set "
                               "service.deps first")
        return self._deps

    @deps.setter
    def deps(self, deps: DepsT) -> None:
        self._deps = deps

    @property
    def halted(self) -> str | None:
        """Why this process gave up for good and must be restarted (``/healthz`` fails), or None."""
        return self.singleton.halted

    async def start(self) -> None:
        """Returns once the service runs, or waits for its lock in the background (``/readyz``
        says so): the HTTP server must answer probes meanwhile."""
        await self.bus.connect()
        await self.bus.ensure_streams()
        self.uow.max_payload = self.bus.max_payload
        self.commit_guard.armed = True
        held = await self.singleton.claim()
        if held:
            try:
                await self._activate()
            except BaseException:
                await self.singleton.release("start-up failed")
                self.commit_guard.armed = False
                raise
        self.singleton.keep(None if held else self._activate)
        self.started = True

    async def _activate(self) -> None:
        """Once the lock is held, the first time: migrate, load state, consume, run loops."""
        s = self.settings
        if s.run_migrations:
            await asyncio.to_thread(migrations.upgrade, self.migrations_dir, s.database_url, s.db_schema)
        for hook in self.on_start:
            await hook(self)
        self.supervise("outbox_relay", self.relay.run)
        for spec in self.consumer_specs:
            consumer = Consumer(
                spec, self.bus, self.sessions, self.name, self.clock,
                batch=s.consumer_batch, max_deliver=s.max_deliver,
                ack_wait_seconds=s.ack_wait_seconds, on_committed=self.relay.publish_committed,
                max_deliver_margin=s.max_deliver_margin, pace_seconds=s.paced_fetch_seconds,
                fence=self.fence, on_commit_in_doubt=self.commit_in_doubt,
                relay_behind=lambda: self.relay.behind,
            )
            await consumer.start()
            self.consumers.append(consumer)
        for hook in self.background:
            self.supervise(hook.__name__, lambda hook=hook: hook(self))
        # What start-up built (modules, caches, mirrors loaded from the tables) lives as long as
        # the process: keep it out of the collector's full passes, which otherwise stall the
        # loop for tens of milliseconds each as the heap grows.
        gc.freeze()
        self.activated = True
        log.info("service.started", consumers=[c.spec.name for c in self.consumers])

    async def stop(self) -> None:
        """Graceful but bounded: a step that hangs is logged and skipped, never awaited forever
        (whatever it left undone is redelivered or republished after restart). The service lock
        is released last, once nothing acts any more."""
        held = self.fence.held
        await _bounded(self.singleton.stop(), "stop keeping the service lock")
        for consumer in self.consumers:
            await _bounded(consumer.stop(), f"stop consumer {consumer.spec.name}")
        self.consumers.clear()
        await _bounded(self.supervisor.stop(), "stop background loops")
        for hook in self.on_stop:
            await _bounded(hook(self), "on_stop hook")
        await _bounded(self.relay.stop(), "stop outbox relay")
        if held and self.bus.is_connected:
            await _bounded(self.relay.flush(), "final outbox publish")
        await _bounded(self.singleton.release(), "release the service lock")
        await self.bus.close()
        await self.engine.dispose()
        self.started = self.activated = self.commit_guard.armed = False
        log.info("service.stopped")

    def commit_in_doubt(self, doubt: CommitDoubt) -> None:
        """A transaction failed once its COMMIT was on its way, so it may have landed; its
        message's redelivery would then be a duplicate the inbox drops. Its events go out before
        that duplicate is acked (``OutboxRelay.commit_in_doubt``). Its in-memory effects
        (``after_commit``) would never run: when it had some, the process starts again, its
        start-up loading its state from the database as after any restart."""
        if doubt.events:
            self.relay.commit_in_doubt()
        if doubt.effects:
            self.restart("a commit's outcome is unknown (it failed once its COMMIT was sent) and "
                         "its in-memory effects did not run: memory may be behind the database")

    def restart(self, reason: str) -> None:
        """Stop acting at once and start again. The service halts (its fence closes, nothing
        commits any more, the lock is given up); under ``run`` the process then stops as on
        SIGTERM and executes its own command anew (same pid, same environment), else (a test
        driving the service) ``/healthz`` answers 503 and whoever runs it restarts it."""
        if self.halted:
            return
        self.singleton.halt(reason)
        self.restarting = True
        if self._server is not None:
            self._server.stop_serving()

    def _served_by(self, server: QuietServer) -> None:
        self._server = server

    def supervise(self, name: str, factory: LoopFactory, fenced: bool = True) -> asyncio.Task[None]:
        """Run a background loop for the service's life: restarted with backoff on any error,
        and named by ``/readyz`` while it keeps failing; it runs only while the service holds
        its lock (``fenced=False``: always, for a loop that acts on nothing)."""
        return self.supervisor.spawn(name, factory, fenced)

    def consumers_check(self) -> str:
        if not self.started:
            return "not started"
        if not self.fence.held:
            names = ", ".join(spec.name for spec in self.consumer_specs)
            return f"paused: {names} ({self.fence.reason})" if names else f"paused ({self.fence.reason})"
        if not self.activated:  # the lock is taken before start-up (migrations, state) runs
            return "starting: the lock is held, its state is still loading"
        paused = [f"{c.spec.name} ({c.paused})" for c in self.consumers if c.paused]
        return "paused: " + "; ".join(paused) if paused else "ok"

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {"nats": "ok" if self.bus.is_connected else "disconnected"}
        checks["lock"] = "ok" if self.fence.held else self.fence.reason
        checks["consumers"] = self.consumers_check()
        try:
            await ping(self.engine)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
            return checks
        try:
            current = await migrations.current_revisions(self.settings.database_url, self.settings.db_schema)
            heads = migrations.head_revisions(self.migrations_dir)
            checks["migrations"] = "ok" if current == heads else f"at {sorted(current)}, head {sorted(heads)}"
        except Exception as exc:
            checks["migrations"] = f"error: {type(exc).__name__}"
        failing = self.supervisor.failing()
        checks["loops"] = "ok" if not failing else "failing: " + "; ".join(
            f"{name} ({error})" for name, error in sorted(failing.items())
        )
        return checks

    def app(self, manage_lifecycle: bool = True) -> FastAPI:
        return create_app(self, self.routers, manage_lifecycle=manage_lifecycle)

    def run(self) -> None:
        """Blocking entry point of ``python -m robson_<service>``."""
        s = self.settings
        logs.configure_logging(self.name, s.log_level, s.log_json)
        serve(self.app(), on_server=self._served_by, host=s.http_host, port=s.http_port,
              log_level=s.log_level.lower(), access_log=False, log_config=None,
              timeout_graceful_shutdown=HTTP_GRACE_SECONDS)
        if self.restarting and not (self._server is not None and self._server.signalled):
            _start_again(self.name)  # not when asked to stop meanwhile: it stops, and halted


def _start_again(name: str) -> NoReturn:
    """This process's own command, executed anew in its place (same pid: a supervisor sees no
    exit), with its environment but the injected faults, which are armed for one life."""
    env = {k: v for k, v in os.environ.items() if k != faults.VARIABLE}
    log.warning("service.starting_again", service=name, argv=sys.orig_argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)
