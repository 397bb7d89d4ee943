"""Outbox relay: publishes committed events, marks them published.

A crash between commit and publish leaves rows unpublished: the next relay publishes them.
A crash between publish and marking republishes them with the same ``Nats-Msg-Id``, which
JetStream drops as a duplicate, and consumers' inboxes drop anything older. At-least-once
publish plus dedup gives an exactly-once effect. ``SKIP LOCKED`` lets replicas share the work.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from robson_kit import faults, logs, metrics
from robson_kit.bus import Bus
from robson_kit.tables import inbox, outbox

log = logs.get_logger(__name__)

BATCH = 256
KEEP_PUBLISHED = timedelta(days=1)
KEEP_INBOX = timedelta(days=14)


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, bus: Bus, service: str, poll_seconds: float = 0.5) -> None:
        self.engine = engine
        self.bus = bus
        self.service = service
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def notify(self) -> None:
        """Called after a commit that wrote events: publish now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox:{self.service}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _run(self) -> None:
        polls = 0
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while await self.publish_pending() == BATCH:
                    pass
                polls += 1
                if polls % 1200 == 0:
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox.publish_failed", error=repr(exc))
                await asyncio.sleep(min(5.0, self.poll_seconds * 4))

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events in commit order; returns how many."""
        async with self.engine.begin() as conn:
            # Losing a "published" mark in a database crash only causes a republish, which
            # JetStream's dedup and the consumers' inboxes drop: no need to wait for fsync.
            await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            rows = (
                await conn.execute(
                    select(outbox.c.id, outbox.c.subject, outbox.c.payload, outbox.c.headers)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                metrics.OUTBOX_LAG.labels(self.service).set(0)
                return 0
            await asyncio.gather(
                *(self.bus.publish_raw(r.subject, r.payload, dict(r.headers)) for r in rows)
            )
            faults.point("outbox.after_publish")
            await conn.execute(
                update(outbox).where(outbox.c.id.in_([r.id for r in rows])).values(published_at=func.now())
            )
        self.published += len(rows)
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

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
