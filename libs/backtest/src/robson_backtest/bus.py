"""The in-memory bus: every service's own ``ConsumerSpec``s, fed in publication order.

A message goes to each consumer whose ``accepts`` matches (and whose ``wants`` does not turn
it down) in a transaction of its own; what a handler emits is queued behind what is already
waiting, as a stream would hold it. A step's run of ticks goes to each market consumer as one
fetched batch (the services fetch them so), run as the kit runs one: ``wants`` first, then one
transaction with a unit of work per message. ``drain`` returns once nothing is left: the
lockstep's "settled". A ``PermanentError`` is a dead letter, as in the services."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from robson_contracts import Message, TradeTick
from robson_kit.clock import Clock
from robson_kit.consumer import ConsumerSpec
from robson_kit.errors import PermanentError

from robson_backtest.uow import MemorySession, MemoryUnitOfWork, commit

NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DeadLetter:
    consumer: str
    message_type: str
    reason_code: str
    reason: str
    message: Message | None = field(default=None, compare=False, repr=False)
    """The message itself (not in the report: its type and reason are)."""


@dataclass
class Route:
    spec: ConsumerSpec
    session: Callable[[], MemorySession]


@dataclass
class MemoryBus:
    clock: Clock
    routes: list[Route] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    published: int = 0
    _queue: deque[tuple[Message, frozenset[str]]] = field(default_factory=deque)
    """Each message with the consumers it is not for (see ``publish``)."""
    _by_type: dict[type, list[Route]] = field(default_factory=dict)

    def subscribe(self, specs: list[ConsumerSpec], session: Callable[[], MemorySession]) -> None:
        self.routes.extend(Route(s, session) for s in specs)
        self._by_type.clear()

    def publish(self, messages: list[Message] | tuple[Message, ...],
                not_for: frozenset[str] = NOBODY) -> None:
        """``not_for``: consumers that skip these messages (the backtest delivers them later,
        or never needs them: see ``activity.py``)."""
        self._queue.extend([(m, not_for) for m in messages])

    def _routes_for(self, kind: type) -> list[Route]:
        routes = self._by_type.get(kind)
        if routes is None:
            routes = self._by_type[kind] = [
                r for r in self.routes if r.spec.accepts is None or issubclass(kind, r.spec.accepts)
            ]
        return routes

    async def deliver_to(self, consumer: str, messages: list[Message]) -> None:
        """``messages`` to one consumer only, as one fetched batch (one unit of work, as the kit
        runs a batch in one transaction), then drain what follows."""
        if not messages:
            return
        route = next(r for r in self.routes if r.spec.name == consumer)
        self.published += len(messages)
        await self._deliver(route, messages)
        await self.drain()

    async def drain(self) -> None:
        queue, by_type = self._queue, self._by_type
        while queue:
            message, not_for = queue.popleft()
            kind = type(message)
            batch = [message]
            if kind is TradeTick:  # a step's ticks: one fetched batch per market consumer
                while queue and type(queue[0][0]) is TradeTick and queue[0][1] == not_for:
                    batch.append(queue.popleft()[0])
            self.published += len(batch)
            routes = by_type.get(kind)
            if routes is None:
                routes = self._routes_for(kind)
            for route in routes:
                if route.spec.name not in not_for:
                    await self._deliver(route, batch)

    async def _deliver(self, route: Route, batch: list[Message]) -> None:
        """``batch`` as the kit runs a fetched batch: ``wants`` asked of every message first,
        in order (it may apply what it turns down in memory), then one transaction for those
        it takes, a unit of work per message (none at all when it takes none: most market
        messages are turned down). A message whose handler fails for good is dead-lettered;
        the only one taken, its work is dropped, as its rollback would (the kit runs a batch
        alone once ``wants`` leaves one message); one of several, what it did stays (memory
        has no rollback), and the report counts the dead letter."""
        spec = route.spec
        wants = spec.wants
        if wants is None:
            taken = tuple(batch)
        elif len(batch) == 1:  # most deliveries: no generator for one message
            taken = (batch[0],) if wants(batch[0]) else ()
        else:
            taken = tuple([m for m in batch if wants(m)])
        if not taken:
            return
        session = route.session()
        uows: list[MemoryUnitOfWork] = []
        for message in taken:
            uow = MemoryUnitOfWork(session, self.clock, taken)
            uows.append(uow)
            try:
                await spec.handler(message, uow)
            except PermanentError as exc:
                self.dead_letters.append(DeadLetter(spec.name, type(message).__name__,
                                                    exc.reason_code, exc.reason, message))
                if len(taken) == 1:
                    return
        if len(uows) == 1 and not session.before and not uows[0]._after:
            emitted = uows[0].emitted  # nothing to run at commit: most deliveries, no coroutine
        else:
            emitted = await commit(session, uows)
        if emitted:
            self._queue.extend([(m, NOBODY) for m in emitted])
