"""The committed state of every active position, kept in memory (updated only after commit).

Order events read a position from here instead of the database. A copy that is behind (a write
committed but not mirrored yet) is harmless: every order event ends in a version-checked write,
which then fails with ``ConflictError``; the entry is dropped so the replay reads the database.
"""

from __future__ import annotations

from typing import Any

from robson_position.domain.position import Position
from robson_position.domain.state import PositionState


class Mirror:
    def __init__(self, enabled: bool = True) -> None:
        """``enabled=False`` holds nothing (every read goes to the repository): for the
        one-process backtest, whose repository is itself in memory."""
        self._states: dict[str, tuple[int, dict[str, Any]]] = {}
        """Plain data (``model_dump``): each ``get`` validates a fresh copy from it."""
        self.enabled = enabled

    def put(self, s: PositionState) -> None:
        """A committed state (older versions than the one held are ignored)."""
        if not self.enabled:
            return
        held = self._states.get(s.position_id)
        if held is not None and held[0] > s.version:
            return
        if s.is_active:
            self._states[s.position_id] = (s.version, s.model_dump())
        else:
            self._states.pop(s.position_id, None)

    def get(self, position_id: str) -> Position | None:
        """A fresh copy of the last committed state, or None when not held (ask the database)."""
        held = self._states.get(position_id)
        return Position(PositionState.model_validate(held[1])) if held else None

    def forget(self, position_id: str) -> None:
        self._states.pop(position_id, None)
