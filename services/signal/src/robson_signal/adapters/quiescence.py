"""Lockstep replay: wait until the platform has drained what was published so far.

Quiet means: every durable, explicitly acknowledged consumer on the Robson streams (the
services' consumers, not ad-hoc readers) has nothing pending and nothing unacknowledged, and no
stream grew while that was being read (stream sequences read before and after the consumers),
and no consumer found drained has a message on its filter stored after its last delivered one
(JetStream counts a message into ``num_pending`` only after acknowledging its publish, on
another goroutine: the counts alone can miss input already on the stream; see ``_undelivered``).
The kit's consumers publish a batch's events before they ack it, so a consumer that still owes
events still has the message unacknowledged: one such reading is enough. When a service's
outbox relay is catching up (its events then go out after the acks), the reading is repeated
after ``window`` seconds, as before progress reports existed.

Between readings it listens instead of polling: every consumer reports its progress after each
batch (``robson_kit.progress``; only while a listener announces itself, as ``wait`` does), and
the next reading is taken once every consumer the last one found busy has reported being
drained (or after ``fallback`` seconds — a report is a hint, JetStream has the last word, and a
service without reports is polled every ``poll`` seconds).
A stopped service keeps its durable consumers, so its backlog holds the replay until it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from nats.js.errors import NotFoundError
from robson_kit import progress
from robson_kit.backlog import WATCHED
from robson_kit.bus import Bus
from robson_kit.logs import get_logger

from robson_signal.adapters.jetstream_state import JetStreamState, filters_of, matches

log = get_logger(__name__)
Key = tuple[str, str]
"""(stream, durable consumer)."""


class Quiescence:
    def __init__(
        self,
        bus: Bus,
        window: float = 0.015,
        poll: float = 0.003,
        warn_after: float = 30.0,
        fallback: float = 0.25,
        state: JetStreamState | None = None,
    ) -> None:
        self.bus, self.window, self.poll, self.warn_after = bus, window, poll, warn_after
        self.state = state or JetStreamState(bus)
        self.fallback = fallback
        self.waits = 0
        self.readings = 0
        self.waited_seconds = 0.0
        self._reported = asyncio.Event()
        self._latest: dict[Key, progress.Progress] = {}
        self._since: set[Key] = set()
        """Consumers that reported since the last reading."""
        self._sub: Any = None
        self._announce_at = 0.0
        self._drained_at: dict[str, int] = {}
        """Streams whose consumers were all found drained, at the stream's last sequence then:
        while the stream has not grown they have nothing pending (a message can only become
        pending again by being delivered, which needs it unacknowledged — busy — first), so
        a reading skips asking for them."""
        self._forget_at = 0.0
        self._consumers: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        """The services' consumers of each stream, with their filter subjects (as last read)."""
        self._verified: dict[Key, int] = {}
        """Each drained consumer: the stream sequence through which it has been found to have
        nothing undelivered (``_undelivered``)."""
        self.lagging = 0
        """Readings' consumers found drained by JetStream's counts with input already stored."""

    async def _listen(self) -> None:
        if self._sub is not None or not progress.enabled():
            return

        async def on_report(msg: Any) -> None:
            report = progress.Progress.parse(msg.subject, msg.data)
            if report is not None:
                key = (report.stream, report.consumer)
                self._latest[key] = report
                self._since.add(key)
                self._reported.set()

        self._sub = await self.bus.nc.subscribe(progress.ALL, cb=on_report)

    async def _announce(self) -> None:
        """Consumers report (and market consumers stop pacing their fetches) only while a
        listener announces itself (``progress.Demand``): again well before the last
        announcement lapses."""
        if time.monotonic() >= self._announce_at:
            self._announce_at = time.monotonic() + progress.DEMAND_SECONDS / 4
            await progress.announce(self.bus.nc)

    async def close(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:
                pass
            self._sub = None

    async def reading(self) -> tuple[bool, dict[Key, tuple[int, int]]]:
        """(quiet, the consumers with something pending or unacknowledged: their last
        delivered stream sequence and how many messages they have not been delivered yet)."""
        self.readings += 1
        if time.monotonic() >= self._forget_at:  # a consumer created since is found in time
            self._drained_at.clear()
            self._verified.clear()
            self._forget_at = time.monotonic() + 1.0
        self._since.clear()
        self._reported.clear()
        before = await self.state.sequences()
        busy: dict[Key, tuple[int, int]] = {}
        idle: list[tuple[Key, int, tuple[str, ...]]] = []
        """Consumers found drained whose stream holds messages after their last delivered one
        that no reading has checked yet (see ``_undelivered``)."""
        # found drained at this very sequence: nothing new since, nothing owed
        asked = [spec.name for spec in WATCHED
                 if spec.name not in before or self._drained_at.get(spec.name) != before[spec.name]]
        # one round trip for all: the requests are independent, all between the two sequence reads
        answers = await asyncio.gather(*(self.state.consumers_of(name) for name in asked),
                                       return_exceptions=True)
        for name, consumers in zip(asked, answers, strict=True):
            if isinstance(consumers, NotFoundError):
                continue
            if isinstance(consumers, BaseException):
                raise consumers
            self._consumers[name] = []
            for c in consumers:
                key, filters = (name, c["config"]["durable_name"]), filters_of(c)
                self._consumers[name].append((key[1], filters))
                pending = c.get("num_pending") or 0
                delivered = (c.get("delivered") or {}).get("stream_seq") or 0
                if pending + (c.get("num_ack_pending") or 0):
                    busy[key] = (delivered, pending)
                elif before.get(name, 0) > max(delivered, self._verified.get(key, 0)):
                    idle.append((key, delivered, filters))
        after = await self.state.sequences()
        if not busy and before == after and idle:
            busy.update(await self._undelivered(idle, before))
        unchecked = {key[0] for key, _, _ in idle} if busy or before != after else set()
        for name in asked:
            if name in before and name not in unchecked and not any(k[0] == name for k in busy):
                self._drained_at[name] = before[name]
            else:
                self._drained_at.pop(name, None)
        return not busy and before == after, busy

    async def _undelivered(self, idle: list[tuple[Key, int, tuple[str, ...]]],
                           before: dict[str, int]) -> dict[Key, tuple[int, int]]:
        """The consumers, among those found drained, that have a message they take stored
        before the reading and not delivered yet. JetStream acknowledges a publish before it
        counts the message in its consumers' ``num_pending`` (another goroutine does that), so
        a consumer can look drained while its input is already on the stream; the lockstep
        once stepped on early that way (an entry order reached paper a candle late). A stream
        lookup of the next message on the consumer's filter after its last delivered one is
        exact: nothing found up to the reading's sequence, and the consumer is drained through
        it (remembered, so the stream is looked into again only once it grows)."""
        lookups = [(key, delivered, subject) for key, delivered, filters in idle
                   for subject in filters or (">",)]
        found = await asyncio.gather(*(
            self.state.next_on(key[0], max(delivered, self._verified.get(key, 0)) + 1, subject)
            for key, delivered, subject in lookups))
        lagging: dict[Key, tuple[int, int]] = {}
        for (key, delivered, _), seq in zip(lookups, found, strict=True):
            if seq is not None and seq <= before[key[0]]:
                lagging[key] = (delivered, 1)
        for key, _, _ in idle:
            if key not in lagging:
                self._verified[key] = before[key[0]]
        self.lagging += len(lagging)
        return lagging

    async def snapshot(self) -> tuple[bool, tuple[int, ...]]:
        """(every service consumer drained, last sequence of every watched stream)."""
        quiet, _ = await self.reading()
        sequences = await self.state.sequences()
        return quiet, tuple(sequences[name] for name in sorted(sequences))

    def _relay_catching_up(self) -> bool:
        return any(r.relay_backlog for r in self._latest.values())

    def _drained(self, key: Key, delivered: int, undelivered: int) -> bool:
        """The consumer reported being done with all it had been delivered at the reading."""
        report = self._latest.get(key)
        return (report is not None and report.pending == 0 and report.seq >= delivered
                and (undelivered == 0 or key in self._since))

    async def _progress(self, busy: dict[Key, tuple[int, int]]) -> None:
        """Until every consumer found busy has reported being drained (any report, when
        nothing was found busy: the stream grew under the reading)."""
        if self._sub is None or not self._latest:
            await asyncio.sleep(self.poll)  # no reports (yet): poll
            return
        if busy and not self._since and all(self._drained(k, *v) for k, v in busy.items()):
            # reported done before the reading: its acks were still on their way
            await asyncio.sleep(self.poll)
            return
        await self._until_reported(lambda: all(self._drained(k, *v) for k, v in busy.items())
                                   if busy else bool(self._since))

    def _expected(self, published: list[tuple[str, int]]) -> dict[Key, int]:
        """The consumers (as last read) that take these (subject, stream sequence) messages,
        with the last sequence each must handle."""
        expected: dict[Key, int] = {}
        for subject, seq in published:
            stream = next((spec.name for spec in WATCHED
                           if any(matches(f, subject) for f in spec.subjects)), None)
            for durable, filters in self._consumers.get(stream or "", ()):
                if not filters or any(matches(f, subject) for f in filters):
                    key = (stream or "", durable)
                    expected[key] = max(seq, expected.get(key, 0))
        return expected

    async def _handled(self, expected: dict[Key, int]) -> None:
        """Until every consumer expected to take the published messages has reported handling
        them (or ``fallback`` seconds): the reading after it then usually finds the platform
        quiet, or the consumers the step's effects went to busy."""
        await self._until_reported(lambda: all(
            (r := self._latest.get(k)) is not None and r.seq >= seq for k, seq in expected.items()))

    async def _until_reported(self, done: Callable[[], bool]) -> None:
        """Until ``done()`` holds, judged again at each progress report, or ``fallback`` s."""
        deadline = time.monotonic() + self.fallback
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._reported.clear()
            try:
                await asyncio.wait_for(self._reported.wait(), left)
            except TimeoutError:
                return

    async def wait(self, published: list[tuple[str, int]] | None = None) -> None:
        """Return once the platform is quiet (blocks for as long as a service is down).
        ``published``: what the step just published (subject, stream sequence) — the reading
        waits until the consumers that take it have reported it handled."""
        await self._listen()
        await self._announce()
        started = time.monotonic()
        warned = False
        if published and self._sub is not None and self._consumers:
            await self._handled(self._expected(published))
        while True:
            await self._announce()
            quiet, busy = await self.reading()
            if quiet and self._relay_catching_up():
                before = await self.state.sequences()
                await asyncio.sleep(self.window)
                quiet, busy = await self.reading()
                quiet = quiet and before == await self.state.sequences()
            if quiet:
                break
            await self._progress(busy)
            if not warned and time.monotonic() - started > self.warn_after:
                log.warning("lockstep.waiting", seconds=round(time.monotonic() - started, 1),
                            busy=sorted(f"{s}/{c}" for s, c in busy))
                warned = True
        self.waits += 1
        self.waited_seconds += time.monotonic() - started
