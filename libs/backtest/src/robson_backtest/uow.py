"""The unit of work in memory: what a handler sees of its transaction (``emit``,
``before_commit``, ``after_commit``, ``session.info``), with the kit's order of effects:
keyed before-commit writes (which may emit and register more), then after-commit callbacks,
then the emitted messages go out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from robson_contracts import Message
from robson_kit.clock import Clock


class MemorySession:
    """A transaction's scratch space (``info``), optionally carrying a service's in-memory
    tables (``memory``, see ``robson_position.adapters.memory``)."""

    __slots__ = ("info", "memory")

    def __init__(self, memory: Any = None) -> None:
        self.info: dict[str, Any] = {}
        self.memory = memory


class MemoryUnitOfWork:
    __slots__ = ("_after", "_before", "clock", "emitted", "session")

    def __init__(self, session: MemorySession, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.emitted: list[Message] = []
        self._after: list[Callable[[], Awaitable[None] | None]] = []
        self._before: dict[object, Callable[[Any], Awaitable[None]]] = {}

    def emit(self, message: Message, subject: str | None = None) -> None:
        self.emitted.append(message)

    def before_commit(self, key: object, write: Callable[[Any], Awaitable[None]]) -> None:
        self._before[key] = write

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        self._after.append(callback)

    @property
    def pending_work(self) -> bool:
        """Writes or callbacks to run at commit (most market messages register none)."""
        return bool(self._before or self._after)

    async def execute(self, statement: object, params: object = None) -> Any:
        raise RuntimeError("the backtest has no database: a handler reached SQL")

    async def commit(self) -> list[Message]:
        while self._before:
            writes, self._before = self._before, {}
            for write in writes.values():
                await write(self)
        callbacks, self._after = self._after, []
        for callback in callbacks:
            result = callback()
            if result is not None:
                await result
        return self.emitted
