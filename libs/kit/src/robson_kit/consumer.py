"""Durable pull consumer: decode → handler in one transaction with inbox + outbox → commit → ack.

* undecodable / invalid / unknown-version / unexpected message → dead letter + term;
* handler raises PermanentError → dead letter + term;
* any other failure → nak with exponential backoff; after ``max_deliver`` tries → dead letter.
The loop never stops on a bad message.

A fetched batch runs in one transaction (``robson_kit.batch``); after commit its events are
published, then each message is settled. Within a batch a retried message may be overtaken by
the ones after it; handlers that need order must tolerate (or reject) stale input.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError
from robson_contracts import DeadLetter, DecodeError, Message, decode, derive_id
from robson_contracts.subjects import StreamSpec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from robson_kit import faults, logs, metrics
from robson_kit.batch import BatchTransaction, Outcome
from robson_kit.bus import Bus
from robson_kit.clock import Clock, WallClock
from robson_kit.pull import PullFeed
from robson_kit.uow import Committed, UnitOfWork

Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
log = logs.get_logger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """``name`` is the durable consumer name (unique per stream, stable across restarts)."""

    name: str
    stream: StreamSpec
    filter_subjects: tuple[str, ...]
    handler: Handler
    accepts: tuple[type[Message], ...] | None = None
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    ack_wait_seconds: float | None = None
    """None: the service's ``ack_wait_seconds`` setting."""
    max_ack_pending: int = 1000
    wants: Callable[[Any], bool] | None = None
    """Messages this predicate turns down are acked without a transaction, as the handler would
    ignore them anyway (e.g. entry decisions on a consumer of management decisions): no effect,
    so nothing to record."""
    record_inbox: bool = True
    """False only for idempotent handlers (applying a message twice changes nothing, e.g. a
    price into an in-memory mark book): no inbox record, so a batch that writes nothing costs no
    database round trip at all."""
    extra: dict[str, Any] = field(default_factory=dict)


def backoff_seconds(deliveries: int, base: float = 0.2, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter, for nak delays."""
    return random.uniform(0, min(cap, base * 2 ** max(0, deliveries - 1)))


class Consumer:
    def __init__(
        self,
        spec: ConsumerSpec,
        bus: Bus,
        sessions: async_sessionmaker[AsyncSession],
        service: str,
        clock: Clock | None = None,
        batch: int = 64,
        max_deliver: int = 8,
        ack_wait_seconds: float = 30.0,
        on_committed: Committed | None = None,
    ) -> None:
        self.spec = spec
        self.bus = bus
        self.sessions = sessions
        self.service = service
        self.clock = clock or WallClock()
        self.batch = batch
        self.max_deliver = max_deliver
        self.ack_wait_seconds = spec.ack_wait_seconds or ack_wait_seconds
        self.on_committed = on_committed
        self._batch = BatchTransaction(spec.name, spec.handler, spec.record_inbox, sessions,
                                       self.clock, service)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.processed = 0

    async def provision(self) -> None:
        config = ConsumerConfig(
            durable_name=self.spec.name,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_seconds,
            max_ack_pending=self.spec.max_ack_pending,
            deliver_policy=self.spec.deliver_policy,
            filter_subjects=list(self.spec.filter_subjects),
        )
        try:
            await self.bus.js.add_consumer(self.spec.stream.name, config)
        except BadRequestError as exc:  # exists with another config: keep its position
            log.warning("consumer.config_differs", consumer=self.spec.name, error=str(exc))

    async def start(self) -> None:
        await self.provision()
        self._sub = await self.bus.js.pull_subscribe_bind(
            self.spec.name, stream=self.spec.stream.name
        )
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.spec.name}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _run(self) -> None:
        feed = PullFeed(self._sub, self.batch)
        while not self._stopping.is_set():
            try:
                msgs = await feed.next(timeout=1.0)
            except TimeoutError:
                continue
            except Exception as exc:  # connection trouble: the client reconnects on its own
                log.warning("consumer.fetch_failed", consumer=self.spec.name, error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            try:
                await self.process(msgs)
            except Exception as exc:  # never let the loop die
                log.error("consumer.batch_failed", consumer=self.spec.name, error=repr(exc))

    async def process(self, msgs: list[Msg]) -> None:
        decoded: list[tuple[Msg, Message]] = []
        for msg in msgs:
            try:
                decoded.append((msg, decode(msg.data, self.spec.accepts)))
            except DecodeError as exc:
                await self._dead_letter(msg, exc.reason_code, exc.reason)
        if self.spec.wants is not None:
            decoded = await self._skip_unwanted(decoded)
        if not decoded:
            return
        started = time.perf_counter()
        try:
            outcomes, uows = await self._batch.run(decoded)
        except Exception as exc:
            log.warning("consumer.commit_failed", consumer=self.spec.name, error=repr(exc))
            outcomes = {id(m): Outcome("retry", "COMMIT_FAILED", repr(exc)) for m, _ in decoded}
            uows = []
        for uow in uows:
            await uow.run_after_commit()
        written = [row for uow in uows for row in uow.written]
        if written and self.on_committed is not None:
            await self.on_committed(written)
        elapsed = time.perf_counter() - started
        faults.point("consumer.after_commit")
        for msg, _ in decoded:
            await self._settle(msg, outcomes[id(msg)])
        metrics.HANDLE_SECONDS.labels(self.service, self.spec.name).observe(elapsed / len(decoded))

    async def _skip_unwanted(self, decoded: list[tuple[Msg, Message]]) -> list[tuple[Msg, Message]]:
        wanted = []
        for msg, message in decoded:
            if self.spec.wants(message):  # type: ignore[misc]
                wanted.append((msg, message))
            else:
                await msg.ack()
                self.processed += 1
                metrics.MESSAGES.labels(self.service, self.spec.name, "skipped").inc()
        return wanted

    async def _settle(self, msg: Msg, outcome: Outcome) -> None:
        if outcome.kind == "ack":
            await msg.ack()
            self.processed += 1
            metrics.MESSAGES.labels(self.service, self.spec.name, "ok").inc()
        elif outcome.kind == "dead":
            await self._dead_letter(msg, outcome.reason_code, outcome.reason)
        else:
            deliveries = msg.metadata.num_delivered or 1
            if deliveries >= self.max_deliver:
                await self._dead_letter(
                    msg, "MAX_DELIVERIES", f"failed {deliveries} times; last: {outcome.reason}"
                )
            else:
                metrics.MESSAGES.labels(self.service, self.spec.name, "retry").inc()
                await msg.nak(delay=backoff_seconds(deliveries))

    async def _dead_letter(self, msg: Msg, reason_code: str, reason: str) -> None:
        """Publish the raw message with the reason, then term it. If the dead-letter publish
        fails the message is nak'ed instead, so nothing is lost."""
        seq = msg.metadata.sequence.stream if msg.metadata else 0
        letter = DeadLetter(
            message_id=derive_id("dead-letter", self.spec.stream.name, self.spec.name, seq),
            occurred_at=self.clock.now(),
            service=self.service,
            consumer=self.spec.name,
            subject=msg.subject,
            reason_code=reason_code,
            reason=reason[:2000],
            payload_b64=base64.b64encode(msg.data).decode(),
            headers={k: str(v) for k, v in (msg.headers or {}).items()},
            delivered_count=msg.metadata.num_delivered or 1,
        )
        try:
            await self.bus.publish(letter)
        except Exception as exc:
            log.error("dead_letter.publish_failed", consumer=self.spec.name, error=repr(exc))
            await msg.nak(delay=5)
            return
        log.warning("message.dead_lettered", consumer=self.spec.name, subject=msg.subject,
                    reason_code=reason_code, reason=reason[:300])
        metrics.MESSAGES.labels(self.service, self.spec.name, "dead_letter").inc()
        await msg.term()
