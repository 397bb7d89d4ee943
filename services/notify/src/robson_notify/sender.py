"""The sender loop: due deliveries → one request each (or one per collapsed burst) → outcome.

An attempt is committed (status ATTEMPTING, attempts + 1) before its request leaves and its
outcome is committed right after the reply, so the only window in which a crash leaves the
outcome unknown is one request long. On (re)start, interrupted critical attempts are sent
again and interrupted routine ones are not (see ``domain.policy``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from robson_kit import faults, logs
from robson_kit.clock import Clock
from robson_kit.uow import UnitOfWork

from robson_notify.adapters import store
from robson_notify.domain.model import DeliveryStatus, Severity
from robson_notify.domain.policy import RetryPolicy, SendResult, after_attempt
from robson_notify.outgoing import Outgoing
from robson_notify.runtime import Runtime

log = logs.get_logger(__name__)
SENT = Counter("robson_notify_attempts_total", "Delivery attempts by channel and outcome",
               ["channel", "outcome"])
SEND_SECONDS = Histogram("robson_notify_send_seconds", "One request to a channel", ["channel"])
Unit = tuple[Any, list[Any]]
"""A lead delivery row and the rows collapsed into it."""


class Sender:
    def __init__(self, runtime: Runtime, uow: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
                 clock: Clock, policy: RetryPolicy) -> None:
        self.runtime, self.uow, self.clock, self.policy = runtime, uow, clock, policy
        s = runtime.settings
        self.batch, self.poll, self.collapse_min = s.sender_batch, s.sender_poll_seconds, s.collapse_min

    async def run(self) -> None:
        async with self.uow() as u:
            again, lost = await store.recover(u.session)
        if again or lost:
            log.warning("notify.recovered_attempts", resent_critical=again, failed_routine=lost)
        while True:
            self.runtime.wakeup.clear()
            if await self.pass_once():
                continue
            await self._idle()

    async def _idle(self) -> None:
        async with self.uow() as u:
            nxt = await store.next_due_at(u.session)
        wait = self.poll
        if nxt is not None:
            wait = max(0.0, min(wait, (nxt - self.clock.now()).total_seconds()))
        try:
            await asyncio.wait_for(self.runtime.wakeup.wait(), wait)
        except TimeoutError:
            pass

    async def pass_once(self) -> int:
        """Attempt what is due; returns the number of requests made."""
        async with self.uow() as u:
            rows = await store.due(u.session, self.clock.now(), self.batch)
        by_channel: dict[str, list[Any]] = {}
        for row in rows:
            by_channel.setdefault(row.channel, []).append(row)
        # Every channel's requests finish before a failure ends the pass: the loop's restart
        # recovers ATTEMPTING rows as a crash's, so none may still be in flight then.
        done = await asyncio.gather(*(self._channel(ch, rs) for ch, rs in by_channel.items()),
                                    return_exceptions=True)
        for result in done:
            if isinstance(result, BaseException):
                raise result
        return sum(done)  # type: ignore[arg-type]

    def plan(self, channel: str, rows: list[Any], budget: int | None) -> list[Unit]:
        """One unit per row while the channel's rate allows them all; beyond, bursts of one
        routine kind become one unit (a summary message)."""
        if not self.runtime.collapses(channel) or budget is None or len(rows) <= budget:
            return [(r, []) for r in rows]
        groups: dict[str, list[Any]] = {}
        units: list[Unit] = []
        for r in rows:
            if r.severity >= Severity.CRITICAL:
                units.append((r, []))
            elif r.kind not in groups:
                groups[r.kind] = [r]
                units.append((r, groups[r.kind]))
            else:
                groups[r.kind].append(r)
        out: list[Unit] = []
        for lead, group in units:
            if not group:
                out.append((lead, []))
            elif len(group) >= self.collapse_min:
                out.append((lead, group[1:]))
            else:
                out.extend((r, []) for r in group)
        return out

    async def _channel(self, channel: str, rows: list[Any]) -> int:
        bucket = self.runtime.buckets.get(channel)
        budget = bucket.available(self.clock.now()) if bucket is not None else None
        units, sent = self.plan(channel, rows, budget), 0
        for i, (lead, others) in enumerate(units):
            now = self.clock.now()
            if self.policy.expired(Severity(lead.severity), lead.created_at, now):
                async with self.uow() as u:
                    await store.expire(u.session, [lead.delivery_id])
                continue
            if bucket is not None and not bucket.take(now):
                ids = [r.delivery_id for lead_, rest in units[i:] for r in (lead_, *rest)]
                async with self.uow() as u:
                    await store.defer(u.session, ids, bucket.ready_at(now))
                break
            await self._attempt(channel, lead, others, now)
            sent += 1
        return sent

    async def _attempt(self, channel: str, lead: Any, others: list[Any], now: datetime) -> None:
        async with self.uow() as u:
            claimed = await store.claim(u.session, [lead.delivery_id, *(r.delivery_id for r in others)], now)
        if lead.delivery_id not in claimed:
            return
        others = [r for r in others if r.delivery_id in claimed]
        out = outgoing(lead, others)
        transport = self.runtime.channels.get(channel)
        faults.point("notify.before_send")
        started = time.perf_counter()
        if transport is None:
            result = SendResult(False, error="CHANNEL_NOT_CONFIGURED", permanent=True)
        else:
            try:
                result = await transport.send(out)
            except Exception as exc:  # a transport bug must not stall the queue
                result = SendResult(False, error=f"SEND_ERROR ({type(exc).__name__})", sent=True)
        faults.point("notify.after_send")
        nxt = after_attempt(self.policy, Severity(lead.severity), lead.attempts + 1,
                            lead.created_at, self.clock.now(), result)
        async with self.uow() as u:
            await store.settle(u.session, lead.delivery_id, [r.delivery_id for r in others], nxt,
                               self.clock.now())
        SEND_SECONDS.labels(channel).observe(time.perf_counter() - started)
        SENT.labels(channel, "ok" if result.ok else (result.error.split(" ")[0] or "error")).inc()
        if nxt.status is DeliveryStatus.FAILED:
            log.warning("notify.delivery_failed", channel=channel, kind=lead.kind,
                        delivery_id=str(lead.delivery_id), error=nxt.error)


def outgoing(lead: Any, others: list[Any]) -> Outgoing:
    if not others:
        return Outgoing(lead.delivery_id, lead.event_id, lead.kind, lead.severity, lead.account_id,
                        lead.title, lead.text, lead.occurred_at, dict(lead.data))
    rows = [lead, *others]
    lines = [r.title for r in rows[:10]]
    if len(rows) > 10:
        lines.append(f"… and {len(rows) - 10} more")
    accounts = sorted({r.account_id for r in rows if r.account_id})
    return Outgoing(lead.delivery_id, lead.event_id, lead.kind, lead.severity,
                    accounts[0] if len(accounts) == 1 else None,
                    f"{len(rows)} × {lead.kind}", "\n".join(lines), lead.occurred_at,
                    {"count": len(rows), "event_ids": [str(r.event_id) for r in rows]},
                    tuple(r.delivery_id for r in others))
