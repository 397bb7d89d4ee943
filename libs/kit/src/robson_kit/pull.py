"""A standing pull request on a durable consumer.

nats-py's ``fetch`` sends two pull requests per call (a no-wait probe, then a waiting one) and a
batch fetch lingers until the batch fills or its timeout passes. Here one request asks for up to
``batch`` messages and stays open until it expires; ``next`` returns as soon as at least one
message has arrived, together with whatever else is already there. The server keeps filling
the request while the consumer works, so a busy consumer takes its next batch from memory.

A request lives ``expires`` seconds (5): an idle consumer asks the server again once per
expiry, and the server answers each expired request with a timeout status — both cost CPU on
both sides for nothing, twenty consumers' worth on an idle platform, so not every second. A
request lost to a reconnect is replaced at once; one that ends otherwise (a deleted consumer, a
server-side conflict) says so with a status, which ends it here too.

Paced (``pace`` > 0, for market data): while ``prompt()`` is false, the feed fetches at most
once per ``pace`` seconds. Between fetches no request is open, so the server keeps the messages
and then sends them together: one wakeup of the process for a burst instead of one per message
(a live market's ticks arrive one by one, a few milliseconds apart, to every service). A fetch
is a ``no_wait`` request (the server answers at once with what is waiting, and a status when it
runs out); when nothing is waiting, a request for one message waits for the next, which is
then handled at once. A full batch is followed by the next fetch at once (a backlog drains at
full speed). A message waits at most ``pace`` longer than it would unpaced; ``prompt()`` (a
lockstep replay synchronizing on the consumer) turns pacing off.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import nats.errors
from nats.aio.msg import Msg
from nats.js import api
from nats.js.client import JetStreamContext

# A heartbeat says nothing; a 408 ends a request we already stopped counting on (we re-request a
# little before expiry). 404 (no messages) and 409 (conflicts) end the open request.
IGNORED = frozenset({api.StatusCode.CONTROL_MESSAGE, api.StatusCode.REQUEST_TIMEOUT})


class PullFeed:
    def __init__(
        self, subscription: JetStreamContext.PullSubscription, batch: int, expires: float = 5.0,
        pace: float = 0.0, prompt: Callable[[], bool] | None = None,
    ) -> None:
        self._psub = subscription
        self._sub = subscription._sub
        self.batch = batch
        self.expires = expires
        self._credit = 0  # messages the open request may still deliver
        self._request_deadline = 0.0
        self._reconnects = self._stats().get("reconnects", 0)
        self.pace = pace
        self.prompt = prompt or (lambda: False)
        self._paced_at = 0.0
        self._more = False  # the last paced fetch was full: more may be waiting

    async def next(self, timeout: float) -> list[Msg]:
        """Messages that have arrived, waiting up to ``timeout`` for the first one."""
        if self.pace > 0 and not self.prompt():
            return await self._paced(timeout)
        return await self._stream(timeout, self.batch)

    async def _paced(self, timeout: float) -> list[Msg]:
        msgs = self._drain()
        if not msgs:
            gap = self._paced_at + self.pace - time.monotonic()
            if gap > 0 and not self._more:
                await asyncio.sleep(gap)
                msgs = self._drain()
        if not msgs and not self._open():
            msgs = await self._collect()
        if not msgs:
            msgs = await self._stream(timeout, 1)  # nothing waiting: the next one, at once
        self._more = len(msgs) >= self.batch
        self._paced_at = time.monotonic()
        return msgs

    def _open(self) -> bool:
        """A request is open and may still deliver (after a reconnect none is)."""
        if self._reconnected():
            self._credit = 0
        return self._credit > 0 and time.monotonic() < self._request_deadline

    async def _collect(self) -> list[Msg]:
        """What is waiting on the server, up to a batch: a ``no_wait`` request, answered at
        once (a status ends it when fewer are waiting)."""
        await self._request(self.batch, no_wait=True)
        msgs: list[Msg] = []
        end = time.monotonic() + 1.0  # the answer is one round trip away; never wait long
        while self._credit > 0 and (left := end - time.monotonic()) > 0:
            try:
                msg = await self._sub.next_msg(timeout=left)
            except nats.errors.TimeoutError:
                break
            if self._accept(msg):
                msgs.append(msg)
            msgs.extend(self._drain())
        self._credit = 0
        return msgs

    async def _stream(self, timeout: float, batch: int) -> list[Msg]:
        deadline = time.monotonic() + timeout
        while True:
            msgs = self._drain()
            if msgs:
                return msgs
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError
            if self._credit <= 0 or now >= self._request_deadline or self._reconnected():
                await self._request(batch)
            wait = min(deadline, self._request_deadline) - time.monotonic()
            try:
                msg = await self._sub.next_msg(timeout=max(wait, 0.001))
            except nats.errors.TimeoutError:
                continue
            if self._accept(msg):
                return await self._top_up([msg, *self._drain()])

    async def _top_up(self, msgs: list[Msg]) -> list[Msg]:
        """When the server said more are waiting and the request covers them, they are already
        on the wire: collect them too, so a backlog is worked in full batches."""
        coming = min(self._credit, _pending(msgs[-1]), self.batch - len(msgs))
        while coming > 0:
            try:
                msg = await self._sub.next_msg(timeout=0.005)
            except nats.errors.TimeoutError:
                break
            if self._accept(msg):
                msgs.append(msg)
                coming -= 1
            msgs.extend(self._drain())
            coming = min(coming, self.batch - len(msgs))
        return msgs

    def _stats(self) -> dict[str, int]:
        return getattr(self._psub._nc, "stats", None) or {}

    def _reconnected(self) -> bool:
        """A reconnect loses the open request (the server forgets it with the connection's
        interest, or restarted): ask again at once rather than at its expiry."""
        reconnects = self._stats().get("reconnects", 0)
        if reconnects == self._reconnects:
            return False
        self._reconnects = reconnects
        return True

    async def _request(self, batch: int, no_wait: bool = False) -> None:
        request: dict[str, object] = {"batch": batch}
        if no_wait:  # without expires: the server answers at once
            request["no_wait"] = True
        else:
            request["expires"] = int(self.expires * 1e9)
        await self._psub._nc.publish(
            self._psub._nms, json.dumps(request).encode(), self._psub._deliver
        )
        self._credit = batch
        # A little before the server's expiry, so a request is never counted on after it ended.
        self._request_deadline = time.monotonic() + (0.0 if no_wait else self.expires * 0.9)

    def _drain(self) -> list[Msg]:
        queue: asyncio.Queue[Msg] = self._sub._pending_queue
        msgs: list[Msg] = []
        while not queue.empty():
            msg = queue.get_nowait()
            self._sub._pending_size -= len(msg.data)
            queue.task_done()
            if self._accept(msg):
                msgs.append(msg)
        return msgs

    def _accept(self, msg: Msg) -> bool:
        """True for a message to process; a status message ends or leaves the request."""
        status = _status(msg)
        if not status:
            self._credit -= 1
            return True
        if status not in IGNORED:
            self._credit = 0
        return False


def _status(msg: Msg) -> str | None:
    return msg.headers.get(api.Header.STATUS) if msg.headers else None


def _pending(msg: Msg) -> int:
    try:
        return msg.metadata.num_pending or 0
    except Exception:
        return 0
