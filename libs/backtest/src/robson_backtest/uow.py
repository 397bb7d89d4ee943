"""The unit of work in memory: what a handler sees of its transaction (``emit``,
``before_commit``, ``after_commit``, ``session.info``), shaped as the kit runs a fetched batch:
one transaction (the session) and one unit of work per message on it. Keyed before-commit
writes belong to the session (a later registration under the same key replaces an earlier
one, whichever message made it); at commit they run first (they may emit on the unit of work
that registered them, and register more), then each unit's after-commit callbacks, then the
units' messages go out, unit by unit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from robson_contracts import Message
from robson_kit.clock import Clock

Write = Callable[[Any], Awaitable[None]]


class MemorySession:
    """A transaction's scratch space (``info``) and keyed writes, optionally carrying a
    service's in-memory tables (``memory``, see ``robson_position.adapters.memory``)."""

    __slots__ = ("before", "info", "memory")

    def __init__(self, memory: Any = None) -> None:
        self.info: dict[str, Any] = {}
        self.memory = memory
        self.before: dict[object, tuple[Write, MemoryUnitOfWork]] = {}


class MemoryUnitOfWork:
    __slots__ = ("_after", "batch", "clock", "emitted", "session")

    def __init__(self, session: MemorySession, clock: Clock,
                 batch: tuple[Message, ...] = ()) -> None:
        self.session = session
        self.clock = clock
        self.batch = batch
        """Every message of the transaction, as the kit's ``UnitOfWork.batch``."""
        self.emitted: list[Message] = []
        self._after: list[Callable[[], Awaitable[None] | None]] = []

    def emit(self, message: Message, subject: str | None = None) -> None:
        self.emitted.append(message)

    def before_commit(self, key: object, write: Write) -> None:
        self.session.before[key] = (write, self)

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        self._after.append(callback)

    async def execute(self, statement: object, params: object = None) -> Any:
        raise RuntimeError("the backtest has no database: a handler reached SQL")

    async def commit(self) -> list[Message]:
        """This unit of work alone as a transaction."""
        return await commit(self.session, [self])


async def commit(session: MemorySession, uows: list[MemoryUnitOfWork]) -> list[Message]:
    """``uows`` (one per message, all on ``session``) committed as one transaction, in the
    kit's order; returns their messages, unit by unit."""
    while session.before:
        writes, session.before = session.before, {}
        for write, uow in writes.values():
            await write(uow)
    for uow in uows:
        if not uow._after:
            continue
        callbacks, uow._after = uow._after, []
        for callback in callbacks:
            result = callback()
            if result is not None:
                await result
    if len(uows) == 1:
        return uows[0].emitted
    return [message for uow in uows for message in uow.emitted]
