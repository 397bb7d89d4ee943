"""A fetched batch kept in progress while it is handled.

JetStream redelivers a message not acked within ``ack_wait``. A batch can legitimately take
longer: a ``prepare`` waiting on a slow model for each of its messages in turn, a transaction
retried through a database's hiccup. Redelivered meanwhile, each message's delivery count
grows while it is still being handled, and a batch slow every time would push it to the
server's delivery limit, where it is dead-lettered unhandled (``MAX_DELIVERIES_CRASH``): a slow
dependency must never cost a message. So while a batch is in hand its messages are reported
in progress (``+WPI``, which restarts their ``ack_wait``) every third of ``ack_wait``; a batch
that settles sooner sends nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType

from nats.aio.msg import Msg

from robson_kit import logs

log = logs.get_logger(__name__)


class InProgress:
    """``async with InProgress(msgs, ack_wait):`` around the handling of ``msgs``. A timer, not
    a task, until the first report is due: most batches settle in milliseconds, and a task per
    batch would cost more than the timer."""

    def __init__(self, msgs: Sequence[Msg], ack_wait_seconds: float) -> None:
        self._msgs = msgs
        self._period = ack_wait_seconds / 3
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.reports = 0
        """How many times the batch was reported in progress."""

    async def __aenter__(self) -> InProgress:
        if self._msgs:
            self._timer = asyncio.get_running_loop().call_later(self._period, self._due)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            # Not awaited: a cancellation of the batch itself (a stopping consumer) arriving
            # meanwhile would be taken for the report's and swallowed.
            self._task.cancel()

    def _due(self) -> None:
        self._task = asyncio.ensure_future(self._keep())

    async def _keep(self) -> None:
        while True:
            self.reports += 1
            log.info("consumer.batch_in_progress", messages=len(self._msgs), reports=self.reports)
            for msg in self._msgs:
                try:
                    await msg.in_progress()
                except Exception:  # NATS down: the message comes back after ack_wait anyway
                    return
            await asyncio.sleep(self._period)
