"""Durable pull consumer: decode → handler in one transaction with inbox + outbox → commit → ack.

* undecodable / invalid / unknown-version / unexpected message → dead letter + term;
* handler raises PermanentError → dead letter + term;
* handler raises NotYet (it waits for another consumer's input) → nak with its delay, uncounted;
* any other failure of the message itself → nak with exponential backoff; after
  ``max_deliver`` failures → dead letter (``MAX_DELIVERIES``).
The loop never stops on a bad message.

Infrastructure errors are not message failures. When a batch fails because the database is
unreachable (or NATS is down), the consumer stops fetching, naks what it holds without counting
it against the messages, probes with backoff, and resumes when the dependency answers again;
``paused`` (and ``/readyz``) say so meanwhile. See ``robson_kit.outage`` for what counts.

Why the kit keeps its own failure count: JetStream's ``num_delivered`` counts *every*
redelivery — after an outage, a crash, a lost ack — so it cannot tell "this message keeps
failing" from "the database was down". The consumer counts handler failures per stream sequence
in memory and dead-letters on that count. The count is lost on restart, so the server-side
``max_deliver`` (``max_deliver + max_deliver_margin``) bounds the rest, including a message that
kills the process each time it is handled: on its last server delivery the consumer dead-letters
it unhandled (``MAX_DELIVERIES_CRASH``) rather than risk a delivery that is never followed by
another.

A spec's ``prepare`` hook runs for each wanted message before the batch transaction opens,
outside any transaction: the place for a slow outside call (a model, an API) whose result the
handler then reads back from a durable record. Its failures are handled like the handler's.

With a ``fence`` (the service's: ``robson_kit.singleton``) the consumer fetches only while the
fence is open; when it closes, the work in hand is cancelled (its unacked messages come back
after ``ack_wait``; what was committed, the inbox drops) and ``paused`` says why until it opens.

A fetched batch runs in one transaction (``robson_kit.batch``); after commit its events are
published (acknowledged by JetStream), and only then is each message settled: a consumer that
looks drained has its effects stored. Within a batch a retried message may be overtaken by
the ones after it; handlers that need order must tolerate (or reject) stale input.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from robson_contracts import DecodeError, Message, decode
from robson_contracts.registry import TYPE_HEADER
from robson_contracts.subjects import StreamSpec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from robson_kit import faults, logs, metrics, progress
from robson_kit.batch import BatchTransaction, Outcome
from robson_kit.bus import Bus
from robson_kit.clock import Clock, WallClock
from robson_kit.deadletter import FIRST_FAILED_HEADER, dead_letter_for, delivered, sequence
from robson_kit.errors import PermanentError
from robson_kit.fence import Fence, Fenced
from robson_kit.keepalive import InProgress
from robson_kit.outage import Probe, database_probe, is_infrastructure_error, reachable
from robson_kit.provision import provision_consumer
from robson_kit.pull import PullFeed
from robson_kit.uow import Committed, InDoubt, UnitOfWork

__all__ = ["FIRST_FAILED_HEADER", "Consumer", "ConsumerSpec", "backoff_seconds"]
Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
Prepare = Callable[[Any], Awaitable[None]]
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
    prepare: Prepare | None = None
    """Awaited for each decoded, wanted message before the batch transaction opens, with no
    connection or transaction held: for slow outside calls (e.g. a model) that must not keep a
    transaction open. It must be idempotent and record its result durably itself (in its own
    short transaction), as it runs again on every redelivery, duplicates included, and its
    record survives a rolled-back batch. It raises like a handler: ``PermanentError`` → dead
    letter with its reason; an infrastructure error → the consumer pauses and holds the
    message; anything else → a counted failure, retried with backoff. A message whose prepare
    failed is not handled in that batch."""
    prepare_concurrency: int = 1
    """How many of a batch's ``prepare`` calls may be under way at once (1: one after another).
    They start in the batch's order; above 1, each must tolerate the others running meanwhile
    (e.g. a budget shared between them reserved before it awaits)."""
    paced: bool = False
    """Market data: fetch at most once per the service's ``paced_fetch_seconds`` while no
    lockstep replay synchronizes on the consumer (``robson_kit.pull``), so a steady stream of
    ticks costs a wakeup per burst, not per tick. For consumers whose messages may wait that
    long (marks, prices, a paper venue's triggers)."""
    extra: dict[str, Any] = field(default_factory=dict)


def backoff_seconds(deliveries: int, base: float = 0.2, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter, for nak delays."""
    return random.uniform(0, min(cap, base * 2 ** max(0, deliveries - 1)))


FAILURES_REMEMBERED = 10_000
"""Per-message failure counts kept in memory (oldest forgotten first: a message another replica
settled leaves its entry behind)."""


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
        max_deliver_margin: int = 32,
        probe: Probe | None = None,
        pace_seconds: float = 0.1,
        fence: Fence | None = None,
        on_commit_in_doubt: InDoubt | None = None,
        relay_behind: Callable[[], bool] | None = None,
    ) -> None:
        self.spec = spec
        self.bus = bus
        self.sessions = sessions
        self.service = service
        self.clock = clock or WallClock()
        self.batch = batch
        self.max_deliver = max_deliver
        self.server_max_deliver = max_deliver + max(1, max_deliver_margin)
        self.ack_wait_seconds = spec.ack_wait_seconds or ack_wait_seconds
        self.on_committed = on_committed
        self.probe = probe or database_probe(sessions)
        self.pace_seconds = pace_seconds if spec.paced else 0.0
        self.fence = fence
        self.relay_behind = relay_behind or (lambda: False)
        """Whether the service's outbox relay has a backlog (progress reports say so)."""
        self._demand: progress.Demand | None = None
        self._batch = BatchTransaction(spec.name, spec.handler, spec.record_inbox, sessions,
                                       self.clock, service, on_commit_in_doubt, on_committed,
                                       self.relay_behind)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._failures: OrderedDict[int, tuple[int, datetime]] = OrderedDict()
        self.processed = 0
        self.paused: str | None = None
        """Why the consumer is not fetching (a dependency is down), or None."""
        self.pauses = 0
        self.progress: progress.Reporter | None = None
        """Progress watermarks after each batch (robson_kit.progress), set up by ``start``."""

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.spec.name,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_seconds,
            max_ack_pending=self.spec.max_ack_pending,
            max_deliver=self.server_max_deliver,
            deliver_policy=self.spec.deliver_policy,
            filter_subjects=list(self.spec.filter_subjects),
        )

    async def provision(self) -> str:
        return await provision_consumer(self.bus.js, self.spec.stream.name, self.consumer_config())

    async def start(self) -> None:
        self._batch.max_payload = self.bus.max_payload
        await self.provision()
        self._sub: JetStreamContext.PullSubscription | None = await self._bind()
        self._demand = await progress.Demand.of(self.bus.nc)
        if progress.enabled():
            self.progress = progress.Reporter(
                self.bus.nc, self.service, self.spec.name, self.spec.stream.name,
                self.relay_behind, self._demand)
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.spec.name}")

    async def _bind(self) -> JetStreamContext.PullSubscription:
        return await self.bus.js.pull_subscribe_bind(self.spec.name, stream=self.spec.stream.name)

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
        fence = self.fence
        if fence is None:
            return await self._consume()
        while not self._stopping.is_set():
            if not fence.held:
                self._fenced(fence.reason)
                await fence.wait_held()
                self._fenced(None)
            try:
                return await fence.while_held(self._consume)
            except Fenced as fenced:
                log.warning("consumer.fenced", consumer=self.spec.name, reason=str(fenced))
                await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        """Drop what the subscription holds (redelivered after ``ack_wait``): messages kept
        through a long fence would pile up as stale copies of themselves."""
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sub.unsubscribe(), 2.0)

    def _fenced(self, reason: str | None) -> None:
        self.paused = reason and f"fenced: {reason}"
        metrics.CONSUMER_PAUSED.labels(self.service, self.spec.name).set(1 if reason else 0)

    async def _consume(self) -> None:
        while self._sub is None:  # unsubscribed by a fence
            try:
                self._sub = await self._bind()
            except Exception as exc:
                log.warning("consumer.bind_failed", consumer=self.spec.name, error=repr(exc))
                await asyncio.sleep(1.0)
        demand = self._demand
        feed = PullFeed(self._sub, self.batch, pace=self.pace_seconds,
                        prompt=demand.active if demand is not None else None)
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
            if self.progress is not None:
                await self.progress.report(msgs)

    async def process(self, msgs: list[Msg]) -> None:
        decoded: list[tuple[Msg, Message]] = []
        for msg in msgs:
            if delivered(msg) >= self.server_max_deliver:
                await self._dead_letter(msg, "MAX_DELIVERIES_CRASH", (
                    f"delivered {delivered(msg)} times, the server's limit, without being "
                    "settled: it may crash the process; not handled again"))
                continue
            try:
                decoded.append((msg, decode(msg.data, self.spec.accepts, _type_of(msg))))
            except DecodeError as exc:
                await self._dead_letter(msg, exc.reason_code, exc.reason)
        if self.spec.wants is not None:
            decoded = await self._skip_unwanted(decoded)
        if not decoded:
            return
        started = time.perf_counter()
        async with InProgress([msg for msg, _ in decoded], self.ack_wait_seconds):
            outcomes, outage = await self._handle(decoded)
        elapsed = time.perf_counter() - started
        faults.point("consumer.after_commit")
        for msg, _ in decoded:
            try:
                await self._settle(msg, outcomes[id(msg)])
            except Exception as exc:  # NATS down: see _settle
                log.warning("consumer.settle_failed", consumer=self.spec.name, error=repr(exc))
        metrics.HANDLE_SECONDS.labels(self.service, self.spec.name).observe(elapsed / len(decoded))
        if outage:
            await self._pause(outage)

    async def _handle(self, decoded: list[tuple[Msg, Message]]
                      ) -> tuple[dict[int, Outcome], str | None]:
        """Prepare, run the batch and publish what it committed: each message's outcome (by
        ``id(msg)``), and why the dependencies are down when they are."""
        outcomes = await self._prepare(decoded) if self.spec.prepare is not None else {}
        batch = [item for item in decoded if id(item[0]) not in outcomes]
        outage: str | None = None
        uows: list[UnitOfWork] = []
        if batch:
            try:
                done, uows = await self._batch.run(batch)
            except Exception as exc:
                # The probe decides, whatever the error: a database refusing connections answers
                # with errors no classification foresees, and an outage must never be counted.
                outage = await self._dependency_down()
                log.warning("consumer.commit_failed", consumer=self.spec.name, error=repr(exc),
                            outage=outage)
                kind = "hold" if outage else "retry"
                done = {id(m): Outcome(kind, "COMMIT_FAILED", repr(exc)) for m, _ in batch}
                uows = []
            outcomes.update(done)
        if outage is None and any(o.infra for o in outcomes.values()):
            outage = await self._dependency_down()
        if outage:
            outcomes = {k: Outcome("hold") if o.infra else o for k, o in outcomes.items()}
        written = [row for uow in uows if not uow.published for row in uow.written]
        # The events are on their streams (publish acknowledged) before the messages that
        # caused them are acked: whoever finds this consumer drained finds its effects stored
        # too (the lockstep replay's quiescence relies on it). When the publish fails the
        # outbox has the events and the relay reports its backlog.
        faults.point("consumer.before_publish")
        if self.on_committed is not None:
            await self.on_committed(written)
        return outcomes, outage

    async def _prepare(self, decoded: list[tuple[Msg, Message]]) -> dict[int, Outcome]:
        """The outcome of each message whose ``prepare`` failed (keyed by ``id(msg)``)."""
        failed: dict[int, Outcome] = {}
        limit = self.spec.prepare_concurrency
        if limit <= 1 or len(decoded) == 1:
            for msg, message in decoded:
                await self._prepare_one(msg, message, failed)
            return failed
        slots = asyncio.Semaphore(limit)  # FIFO: the calls start in the batch's order

        async def bounded(msg: Msg, message: Message) -> None:
            async with slots:
                await self._prepare_one(msg, message, failed)

        await asyncio.gather(*(bounded(msg, message) for msg, message in decoded))
        return failed

    async def _prepare_one(self, msg: Msg, message: Message, failed: dict[int, Outcome]) -> None:
        logs.bind(correlation_id=str(message.correlation_id), message_id=str(message.message_id))
        try:
            await self.spec.prepare(message)  # type: ignore[misc]
        except PermanentError as exc:
            failed[id(msg)] = Outcome("dead", exc.reason_code, exc.reason)
        except Exception as exc:
            log.warning("consumer.prepare_failed", consumer=self.spec.name, error=repr(exc))
            failed[id(msg)] = Outcome("retry", "PREPARE_ERROR", f"{type(exc).__name__}: {exc}",
                                      infra=is_infrastructure_error(exc))
        finally:
            logs.unbind("correlation_id", "message_id")

    async def _dependency_down(self) -> str | None:
        """Why the dependencies are unreachable, or None when they answer. A closed fence (the
        service lock lost: a commit refused by the commit guard closes it first) is one: what
        failed meanwhile is not the messages' fault."""
        if self.fence is not None and not self.fence.held:
            return f"fenced: {self.fence.reason}"
        if not self.bus.is_connected:
            return "nats disconnected"
        if not await reachable(self.probe):
            return "database unreachable or read-only"
        return None

    async def _pause(self, reason: str) -> None:
        """Stop fetching until the dependencies answer again (probing with backoff)."""
        self.paused = reason
        self.pauses += 1
        metrics.CONSUMER_PAUSED.labels(self.service, self.spec.name).set(1)
        log.error("consumer.paused", consumer=self.spec.name, reason=reason)
        attempt = 0
        while (down := await self._dependency_down()) is not None and not self._stopping.is_set():
            self.paused = down
            attempt += 1
            delay = min(5.0, 0.25 * 2 ** min(attempt, 10))
            await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))
        self.paused = None
        metrics.CONSUMER_PAUSED.labels(self.service, self.spec.name).set(0)
        log.warning("consumer.resumed", consumer=self.spec.name, probes=attempt)

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
        """A failed settle is no message failure: an unacked message comes back after
        ``ack_wait`` and the inbox drops its effect; a lost nak just delays the retry."""
        if outcome.kind == "ack":
            if self._failures:
                self._failures.pop(sequence(msg), None)
            await msg.ack()
            self.processed += 1
            metrics.MESSAGES.labels(self.service, self.spec.name, "ok").inc()
        elif outcome.kind == "dead":
            self._failures.pop(sequence(msg), None)
            await self._dead_letter(msg, outcome.reason_code, outcome.reason)
        elif outcome.kind == "hold":
            # Not the message's fault: back to the stream uncounted. The open pull request may
            # take it again while the consumer is paused: it then waits in memory, unacked, and
            # is handled once the consumer resumes (or redelivered after ``ack_wait``).
            metrics.MESSAGES.labels(self.service, self.spec.name, "held").inc()
            await msg.nak(delay=2.0)
        elif outcome.kind == "later":
            metrics.MESSAGES.labels(self.service, self.spec.name, "later").inc()
            await msg.nak(delay=outcome.delay)
        else:
            seq = sequence(msg)
            failures, first = self._failures.pop(seq, (0, self.clock.now()))
            failures += 1
            if failures >= self.max_deliver:
                await self._dead_letter(
                    msg, "MAX_DELIVERIES", f"failed {failures} times; last: {outcome.reason}",
                    first_failed_at=first,
                )
                return
            self._failures[seq] = (failures, first)
            while len(self._failures) > FAILURES_REMEMBERED:
                self._failures.popitem(last=False)
            metrics.MESSAGES.labels(self.service, self.spec.name, "retry").inc()
            await msg.nak(delay=backoff_seconds(failures))

    async def _dead_letter(self, msg: Msg, reason_code: str, reason: str,
                           first_failed_at: datetime | None = None) -> None:
        """Publish the raw message with the reason, then term it. If the dead-letter publish
        fails the message is nak'ed instead, so nothing is lost."""
        letter = dead_letter_for(msg, self.spec.stream.name, self.spec.name, self.service,
                                 reason_code, reason, self.clock.now(), first_failed_at)
        # On the server's last delivery a nak brings nothing back: the letter is the message's
        # only trace, so a failed publish (NATS blinking) is tried again for a while first.
        waits = LAST_LETTER_WAITS if delivered(msg) >= self.server_max_deliver else ()
        for wait in (*waits, None):
            try:
                await self.bus.publish(letter)
                break
            except Exception as exc:
                log.error("dead_letter.publish_failed", consumer=self.spec.name, error=repr(exc))
                if wait is None or self._stopping.is_set():
                    if waits:
                        log.error("message.lost", consumer=self.spec.name, subject=msg.subject,
                                  stream_sequence=sequence(msg), reason_code=reason_code)
                    try:
                        await msg.nak(delay=5)
                    except Exception:  # NATS down: the message comes back after ack_wait anyway
                        pass
                    return
                await asyncio.sleep(wait)
        log.warning("message.dead_lettered", consumer=self.spec.name, subject=msg.subject,
                    reason_code=reason_code, reason=reason[:300])
        metrics.MESSAGES.labels(self.service, self.spec.name, "dead_letter").inc()
        await msg.term()


LAST_LETTER_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
"""Pauses between tries of a last delivery's dead letter (about half a minute in all)."""


def _type_of(msg: Msg) -> str | None:
    return msg.headers.get(TYPE_HEADER) if msg.headers else None
