"""One fetched batch, one transaction: inbox record, handlers, deferred writes, outbox.

Optimistic batching: the whole batch runs in one transaction; if any handler fails, the batch is
rolled back and replayed one message per transaction, so only the failing message is retried
or dead-lettered while the others commit.

BEGIN goes with the inbox insert and COMMIT with the outbox insert, one round trip each
(``robson_kit.rawtx``). The events go out right after the COMMIT and the in-memory effects,
before SQLAlchemy winds the session down (``_publish_early``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg
from robson_contracts import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from robson_kit import faults, logs, metrics
from robson_kit.clock import Clock
from robson_kit.errors import NotYet, PermanentError
from robson_kit.outage import is_infrastructure_error
from robson_kit.uow import (
    DEFAULT_MAX_PAYLOAD,
    Committed,
    InDoubt,
    UnitOfWork,
    begin_recording_inbox,
    commit_doubt,
    flush_outboxes_and_commit,
    run_before_commit,
)

Decoded = list[tuple[Msg, Message]]
log = logs.get_logger(__name__)


@dataclass
class Outcome:
    kind: str
    """"ack" | "dead" | "retry" | "hold" (a dependency is down: not the message's fault) |
    "later" (the handler waits for another input: ``NotYet``)."""
    reason_code: str = ""
    reason: str = ""
    delay: float = 0.0
    """For "later": seconds until the message comes back."""
    infra: bool = False
    """The failure looked like an infrastructure error (the consumer confirms with a probe)."""


class _RollBack(Exception):
    """Roll back the transaction: a handler failed (its outcome travels with the exception)."""

    def __init__(self, outcomes: dict[int, Outcome]) -> None:
        super().__init__("handler failed")
        self.outcomes = outcomes


class BatchTransaction:
    def __init__(
        self,
        consumer: str,
        handler: Callable[[Any, UnitOfWork], Awaitable[None]],
        record_inbox: bool,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        service: str,
        on_commit_in_doubt: InDoubt | None = None,
        publish: Committed | None = None,
        relay_behind: Callable[[], bool] = lambda: False,
    ) -> None:
        self.consumer = consumer
        self.handler = handler
        self.on_commit_in_doubt = on_commit_in_doubt
        """Told when a transaction failed once its COMMIT was on its way (``commit_doubt``)."""
        self.record_inbox = record_inbox
        self.sessions = sessions
        self.clock = clock
        self.service = service
        self.max_payload = DEFAULT_MAX_PAYLOAD
        """The bus's limit for one event (set from the server once connected)."""
        self.publish = publish
        """Hands a committed transaction's events to the bus (the relay's fast path)."""
        self.relay_behind = relay_behind

    async def run(self, decoded: Decoded) -> tuple[dict[int, Outcome], list[UnitOfWork]]:
        """Outcome per message (keyed by ``id(msg)``) and the committed units of work."""
        if len(decoded) > 1:
            try:
                return await self._transaction(decoded, isolate=False)
            except _RollBack:
                metrics.MESSAGES.labels(self.service, self.consumer, "batch_split").inc()
        outcomes: dict[int, Outcome] = {}
        uows: list[UnitOfWork] = []
        for index, item in enumerate(decoded):
            try:
                one_outcomes, one_uows = await self._transaction([item], isolate=True)
            except _RollBack as failed:
                one_outcomes, one_uows = failed.outcomes, []
            except Exception as exc:
                # Not the message's doing (its commit failed: the database, or the commit guard
                # with the service lock gone): it and the rest are left for the consumer's probe
                # to judge, as a failed batch is; what committed before stays committed.
                failure = Outcome("retry", "COMMIT_FAILED", repr(exc), infra=True)
                outcomes.update((id(msg), failure) for msg, _ in decoded[index:])
                break
            outcomes.update(one_outcomes)
            uows.extend(one_uows)
        return outcomes, uows

    async def _transaction(
        self, decoded: Decoded, isolate: bool
    ) -> tuple[dict[int, Outcome], list[UnitOfWork]]:
        outcomes: dict[int, Outcome] = {}
        uows: list[UnitOfWork] = []
        async with commit_doubt(uows, self.on_commit_in_doubt), self.sessions() as session:
            async with session.begin():
                committed = await self._run(session, decoded, isolate, outcomes, uows)
                if committed:  # by the kit, with its outbox
                    await self._after_commit(uows)
                    await self._publish_early(uows)
            if not committed:  # by SQLAlchemy, at the block's end just now
                await self._after_commit(uows)
                await self._publish_early(uows)
        return outcomes, uows

    async def _run(self, session: AsyncSession, decoded: Decoded, isolate: bool,
                   outcomes: dict[int, Outcome], uows: list[UnitOfWork]) -> bool:
        """The batch's handlers and writes, up to its COMMIT: True when the kit sent it (with
        the outbox), False when SQLAlchemy's, at the end of the transaction block, commits."""
        fresh = await self._record_inbox(session, decoded)
        seen: set[object] = set()
        batch = tuple(m for _, m in decoded if m.message_id in fresh
                      and not (m.message_id in seen or seen.add(m.message_id)))
        for msg, message in decoded:
            outcomes[id(msg)] = Outcome("ack")
            if message.message_id not in fresh:
                metrics.MESSAGES.labels(self.service, self.consumer, "duplicate").inc()
                continue
            fresh.discard(message.message_id)  # a redelivered copy in the same batch
            uow = UnitOfWork(session, self.clock, self.max_payload)
            uow.batch = batch
            failure = await self._handle_one(uow, message)
            if failure is not None:
                if not isolate:
                    raise _RollBack({})
                raise _RollBack({id(msg): failure})
            uows.append(uow)
        await self._deferred_writes(session, decoded, isolate)
        faults.point("batch.before_commit")
        return await flush_outboxes_and_commit(session, uows)

    @staticmethod
    async def _after_commit(uows: list[UnitOfWork]) -> None:
        """At once after the COMMIT, before anything else may fail or be cancelled (the fence):
        a committed transaction whose in-memory effects were skipped would leave the process's
        state behind its database, and the message's redelivery is a duplicate the inbox drops.
        Never before it: effects of a transaction whose COMMIT then failed would put the
        process's state ahead of its database."""
        if faults.armed("batch.committed") and any(u.effects_pending for u in uows):
            faults.point("batch.committed")
        for uow in uows:
            await uow.run_after_commit()

    async def _publish_early(self, uows: list[UnitOfWork]) -> None:
        """The committed events go to the bus before SQLAlchemy winds the session down: its
        commit of a transaction the kit has already committed (~0.2 ms of CPU on a quiet host),
        then the connection's return to the pool and the session's close (~0.2–0.4 ms; more
        with other tasks ready to run), where the next service waits for the events, not for
        that. A transaction SQLAlchemy commits (a consumer without inbox, a batch holding a
        redelivered message) publishes right after that commit. One committed while the relay
        is behind publishes after the session, as before: its events wait for a scan, in
        commit order."""
        if self.publish is None or self.relay_behind():
            return
        written = [row for uow in uows for row in uow.written]
        if not written:
            return
        faults.point("consumer.before_publish")
        await self.publish(written)
        for uow in uows:
            uow.published = True

    async def _record_inbox(self, session: AsyncSession, decoded: Decoded) -> set[object]:
        """The ids not processed before (all of them when the handler needs no inbox)."""
        if not self.record_inbox:
            return {m.message_id for _, m in decoded}
        return await begin_recording_inbox(
            session, [(m.message_id, self.consumer, msg.subject) for msg, m in decoded]
        )

    async def _deferred_writes(self, session: AsyncSession, decoded: Decoded, isolate: bool) -> None:
        try:
            await run_before_commit(session)
        except Exception as exc:
            log.warning("handler.deferred_write_failed", consumer=self.consumer, error=repr(exc))
            if not isolate:
                raise _RollBack({}) from exc
            if isinstance(exc, PermanentError):
                raise _RollBack({id(decoded[0][0]): Outcome("dead", exc.reason_code, exc.reason)}) from exc
            failure = Outcome("retry", "HANDLER_ERROR", f"{type(exc).__name__}: {exc}",
                              infra=is_infrastructure_error(exc))
            raise _RollBack({id(decoded[0][0]): failure}) from exc

    async def _handle_one(self, uow: UnitOfWork, message: Message) -> Outcome | None:
        logs.bind(correlation_id=str(message.correlation_id), message_id=str(message.message_id))
        try:
            await self.handler(message, uow)
        except PermanentError as exc:
            return Outcome("dead", exc.reason_code, exc.reason)
        except NotYet as exc:
            return Outcome("later", "NOT_YET", exc.reason, delay=exc.delay)
        except Exception as exc:
            log.warning("handler.failed", consumer=self.consumer, error=repr(exc))
            return Outcome("retry", "HANDLER_ERROR", f"{type(exc).__name__}: {exc}",
                           infra=is_infrastructure_error(exc))
        finally:
            logs.unbind("correlation_id", "message_id")
        return None
