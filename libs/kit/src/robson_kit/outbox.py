"""Outbox relay: publishes committed events, marks them published.

Fast path: right after a commit the writer hands its rows to ``publish_committed``, which
publishes them at once; the relay then marks them published in batches. Safety net: the relay
scans for rows left unpublished (a crash between commit and publish, NATS down) and publishes
them in commit order. While such a backlog may exist, the fast path stands aside so events
still go out in commit order.

A crash between publish and marking republishes with the same ``Nats-Msg-Id``, which JetStream
drops as a duplicate, and consumers' inboxes drop anything older. At-least-once publish plus
dedup gives an exactly-once effect. No transaction is open while NATS is waited on: the rows
are read in one and marked in another.

Nothing blocks the queue: a row the bus can never take (larger than the server's max payload,
or refused ``ROW_ATTEMPTS`` times while NATS is up) is moved to ``outbox_dead`` with the reason
(metric ``robson_outbox_dead_total``, an error log, and a best-effort ``DeadLetter`` on the bus
so ``robson dlq list`` shows it); the rows behind it go on. A connection error is no fault of
the row: the sweep keeps it and retries. ``robson_outbox_pending`` is the real unpublished
count, queried on every sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from typing import Any

import nats.errors
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from robson_kit import faults, logs, metrics
from robson_kit.bus import Bus
from robson_kit.outbox_dead import MOVE_ASIDE, connection_trouble, no_stream_for, report_dead
from robson_kit.tables import inbox, outbox
from robson_kit.uow import HEADER_ALLOWANCE, OutboxRow

log = logs.get_logger(__name__)

BATCH = 256
KEEP_PUBLISHED = timedelta(days=1)
KEEP_INBOX = timedelta(days=14)
MARK_EVERY = 1.0
"""Seconds between "published" marks: one marking transaction serves every event published
meanwhile (a mark lost in a crash only causes a republish that dedup drops)."""
GRACE = timedelta(seconds=5)
"""The scan leaves younger rows to the fast path that is publishing them (a republish would be
harmless, only wasteful)."""

ROW_ATTEMPTS = 5
"""Refusals (other than connection errors) of one row before it is moved aside."""
BACKLOG_WAIT = 2.0
"""How long a committed transaction's writer waits for the scan that publishes its events while
the relay has a backlog (NATS down: the acks would fail too)."""
FAILING_SWEEPS = 5
"""Consecutive failed iterations after which the loop gives up to its supervisor (so /readyz
names it)."""
IDLE_SWEEP_SECONDS = 60.0
"""A sweep finds something only if rows were unpublished at the last one or events were
committed since (one writer per schema); otherwise the periodic sweep waits, and runs at least
this often regardless."""
PRUNE_SECONDS = 2400.0
"""How often published events and old inbox records are deleted."""


Refused = tuple[Any, str, str]
"""An outbox row to move aside, with its reason code and reason."""


class RelayStalled(Exception):
    """NATS did not take some events (connection trouble): the sweep retries them."""


MARK_PUBLISHED = (
    update(outbox)
    .where(outbox.c.message_id.in_(bindparam("ids", expanding=True)))
    .values(published_at=func.now())
)


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, bus: Bus, service: str, poll_seconds: float = 0.5) -> None:
        self.engine = engine
        self.bus = bus
        self.service = service
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._to_mark: list[object] = []
        self._backlog = True  # until a scan finds nothing left behind
        self._scan_done = asyncio.Event()
        """Set when the next scan to begin is over (each scan takes it and leaves a new one)."""
        self._scan_wanted = False
        self._scans = 0
        self._events_at: float | None = None
        """When this process last handed committed events to the relay (loop time)."""
        self._swept_at = 0.0
        self._unpublished = True
        """Whether the last sweep counted unpublished rows (then the next one is on schedule)."""
        self._prune_at: float | None = None
        self._row_failures: Counter[int] = Counter()
        self.published = 0

    async def publish_committed(self, rows: list[OutboxRow]) -> None:
        """Publish rows whose transaction just committed; on failure the scan takes over.
        Returns once they are on the bus (or the bus failed): a consumer acks after this, so
        what it caused is stored before it looks drained. With a backlog, that means after a
        scan that began once they were committed (it publishes in commit order; the rows of a
        redelivered message whose first run committed are among them, so ``rows`` may be
        empty), for at most ``BACKLOG_WAIT`` seconds."""
        if rows:
            self._events_at = asyncio.get_running_loop().time()
        if self._backlog:
            await self._scanned(self._scan_done)
            return
        if not rows:
            return
        try:
            await self._publish([(r["subject"], r["payload"], r["headers"]) for r in rows])
        except Exception as exc:
            log.warning("outbox.fast_publish_failed", error=repr(exc))
            self._backlog = True
            self._wake.set()
            return
        self._to_mark.extend(r["message_id"] for r in rows)
        self._wake.set()

    @property
    def behind(self) -> bool:
        """A backlog: the fast path stands aside, and committed batches wait for a scan, until
        one finds nothing left behind (after a start, a failed publish, a commit in doubt)."""
        return self._backlog

    def commit_in_doubt(self) -> None:
        """A COMMIT that raised may still have landed: the server committed and then the
        connection was cut (a failover, a stopped server) before the client heard. Its events
        are then in the outbox with nothing to hand them over, and its message's redelivery is
        a duplicate that publishes nothing: it would be acked with its effects unpublished
        until a periodic sweep found them, up to ``IDLE_SWEEP_SECONDS`` later, and whoever
        found the consumer drained meanwhile (the lockstep replay) would step on without them.
        So it counts as a backlog, as after a restart: the fast path stands aside and a
        committed batch is acked only after a scan (which publishes in commit order) until one
        finds nothing left behind."""
        self._backlog = True
        self._wake.set()

    async def _publish(self, events: list[tuple[str, bytes, dict[str, str]]]) -> None:
        """Publish concurrently (each with its ``Nats-Msg-Id``), then count them."""
        await asyncio.gather(*(self.bus.publish_raw(subject, payload, headers)
                               for subject, payload, headers in events))
        faults.point("outbox.after_publish")
        self.published += len(events)
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(events))

    def start(self) -> None:
        """Standalone use; a ``Service`` runs ``run`` under its supervisor instead."""
        self._task = asyncio.create_task(self.run(), name=f"outbox:{self.service}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def flush(self) -> None:
        """Mark what was published and publish whatever is left (at shutdown)."""
        await self.mark_published()
        while await self.publish_pending() == BATCH:
            pass

    async def run(self) -> None:
        """The relay loop (run it under the service's supervisor). It retries failures itself
        and gives up to the supervisor only once they persist."""
        loop = asyncio.get_running_loop()
        next_scan = loop.time()
        next_mark: float | None = None
        failures = 0
        while True:
            due = next_scan if next_mark is None else min(next_scan, next_mark)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, due - loop.time()))
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                if self._to_mark and next_mark is None:
                    next_mark = loop.time() + MARK_EVERY
                if next_mark is not None and (len(self._to_mark) >= BATCH or loop.time() >= next_mark):
                    await self.mark_published()
                    next_mark = None
                if self._backlog or self._scan_wanted or (
                        loop.time() >= next_scan and self._sweep_due(loop.time())):
                    await self._scan()
                    next_scan = loop.time() + self.poll_seconds
                elif loop.time() >= next_scan:
                    next_scan = loop.time() + self.poll_seconds
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("outbox.publish_failed", error=repr(exc), failures=failures)
                if failures >= FAILING_SWEEPS:
                    raise
                await asyncio.sleep(min(5.0, self.poll_seconds * 2 ** min(failures, 4) / 4))

    def _sweep_due(self, now: float) -> bool:
        """A periodic sweep can find something only if the last one counted unpublished rows
        or events were committed since it began: otherwise (an idle service, or one whose
        transactions emit nothing, like prices stored on a schedule) it skips the database
        round trips, sweeping every ``IDLE_SWEEP_SECONDS`` regardless."""
        committed = self._events_at is not None and self._events_at >= self._swept_at
        return self._unpublished or committed or now - self._swept_at >= IDLE_SWEEP_SECONDS

    async def _scanned(self, scan_done: asyncio.Event) -> None:
        self._scan_wanted = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(scan_done.wait(), BACKLOG_WAIT)

    async def _scan(self) -> None:
        done, self._scan_done = self._scan_done, asyncio.Event()
        self._scan_wanted = False
        loop = asyncio.get_running_loop()
        self._swept_at = loop.time()
        try:
            backlog = self._backlog
            while (published := await self.publish_pending(None if backlog else GRACE)) == BATCH:
                pass
            if backlog and published == 0:
                self._backlog = False
        finally:
            done.set()
        pending = await self.pending_count()
        self._unpublished = pending > 0
        metrics.OUTBOX_LAG.labels(self.service).set(pending)
        self._scans += 1
        if self._prune_at is None:
            self._prune_at = loop.time() + PRUNE_SECONDS
        elif loop.time() >= self._prune_at:
            self._prune_at = loop.time() + PRUNE_SECONDS
            await self.prune()

    async def mark_published(self) -> None:
        if not self._to_mark:
            return
        ids, self._to_mark = self._to_mark, []
        try:
            async with self.engine.begin() as conn:
                await _without_fsync(conn)
                await conn.execute(MARK_PUBLISHED, {"ids": ids})
        except BaseException:
            self._to_mark[:0] = ids
            raise

    async def publish_pending(self, min_age: timedelta | None = None) -> int:
        """Publish one batch of unpublished events in commit order; returns how many rows it
        settled (published or moved aside). Raises ``RelayStalled`` if NATS did not take some.

        The rows are read in one short transaction and settled in another: none is open while
        NATS is waited on (the server aborts a transaction idle that long, and a frozen relay
        must not hold rows a successor has to publish; ``robson_kit.service_lock``). A row
        published twice meanwhile (the fast path, a fenced-off predecessor) is dropped by
        JetStream as a duplicate of its ``Nats-Msg-Id``."""
        rows = await self._read_unpublished(min_age)
        if not rows:
            return 0
        published, refused, stalled = await self._send(rows)
        if published:
            faults.point("outbox.after_publish")
            self.published += len(published)
            metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(published))
        if published or refused:
            await self._settle(published, refused)
        for r, code, reason in refused:
            self._row_failures.pop(r.id, None)
            await report_dead(self.bus, self.service, r, code, reason)
        if stalled is not None:
            raise RelayStalled(repr(stalled)) from stalled
        return len(published) + len(refused)

    async def _read_unpublished(self, min_age: timedelta | None) -> list[Any]:
        query = (
            select(outbox.c.id, outbox.c.message_id, outbox.c.subject, outbox.c.message_type,
                   outbox.c.payload, outbox.c.headers)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(BATCH)
        )
        if min_age is not None:
            query = query.where(outbox.c.created_at < func.now() - min_age)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def _send(self, rows: list[Any]) -> tuple[list[Any], list[Refused], BaseException | None]:
        """Publish ``rows`` concurrently: those NATS took, those to move aside, and the error of
        a connection that did not take some (they stay for the next sweep)."""
        limit = self.bus.max_payload - HEADER_ALLOWANCE
        sendable = [r for r in rows if len(r.payload) <= limit]
        refused: list[Refused] = [
            (r, "PAYLOAD_TOO_LARGE", f"{len(r.payload)} bytes; the bus carries at most {limit}")
            for r in rows if len(r.payload) > limit
        ]
        results = await asyncio.gather(
            *(self.bus.publish_raw(r.subject, r.payload, dict(r.headers)) for r in sendable),
            return_exceptions=True,
        )
        published = [r for r, result in zip(sendable, results, strict=True)
                     if not isinstance(result, BaseException)]
        stalled: BaseException | None = None
        for r, result in zip(sendable, results, strict=True):
            if not isinstance(result, BaseException):
                continue
            if connection_trouble(result, others_published=bool(published)) and not (
                    await no_stream_for(self.bus, r.subject, result)):
                stalled = result
                continue
            self._row_failures[r.id] += 1
            if isinstance(result, nats.errors.MaxPayloadError):
                refused.append((r, "PAYLOAD_TOO_LARGE", repr(result)))
            elif self._row_failures[r.id] >= ROW_ATTEMPTS:
                refused.append((r, "PUBLISH_REFUSED",
                                f"refused {self._row_failures[r.id]} times; last: {result!r}"))
            else:  # retried on the next sweep; not a failure of the relay
                log.warning("outbox.event_refused", message_id=str(r.message_id),
                            subject=r.subject, attempts=self._row_failures[r.id], error=repr(result))
        if published and self._row_failures:
            for r in published:
                self._row_failures.pop(r.id, None)
        return published, refused, stalled

    async def _settle(self, published: list[Any], refused: list[Refused]) -> None:
        """Mark the published rows and move the refused ones aside, in one transaction."""
        async with self.engine.begin() as conn:
            await _without_fsync(conn)
            if published:
                await conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in published]))
                                   .values(published_at=func.now()))
            for r, code, reason in refused:
                await conn.execute(MOVE_ASIDE, {"id": r.id, "code": code, "reason": reason[:2000]})

    async def pending_count(self) -> int:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None)))
            ).scalar_one()

    async def prune(self) -> None:
        """Forget published events after a day and inbox records after two weeks (far beyond
        JetStream's redelivery and duplicate windows)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(outbox).where(outbox.c.published_at < func.now() - KEEP_PUBLISHED)
            )
            await conn.execute(delete(inbox).where(inbox.c.processed_at < func.now() - KEEP_INBOX))


async def _without_fsync(conn: AsyncConnection) -> None:
    """Losing a "published" mark in a database crash only causes a republish, which JetStream's
    dedup and the consumers' inboxes drop: no need to wait for fsync."""
    await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
