"""A consumer batch's positions: each read at most once and written at most once, just before
the batch's transaction commits (a fetched batch is one transaction).

Paper sends five order events per entry at once (entry accepted and filled, the children
accepted); they arrive in one batch, and this turns five reads + five writes into one of each.
Positions are read from the in-memory mirror of committed states (``adapters/mirror.py``) when
it holds them. The write keeps the version check: a writer that committed meanwhile (an API
call, the re-sync) makes the batch fail with ``ConflictError``, and the kit replays it on the
new state.
"""

from __future__ import annotations

from robson_kit.errors import ConflictError
from robson_kit.uow import UnitOfWork

from robson_position.adapters.mirror import Mirror
from robson_position.adapters.repository import positions_of
from robson_position.domain.position import Position

_LOADED = "robson_position.batch.loaded"
_SAVING = "robson_position.batch.saving"


async def get(uow: UnitOfWork, mirror: Mirror, position_id: str) -> Position | None:
    """The position as this transaction last left it (the first time: the committed copy in
    ``mirror``, else the database)."""
    loaded: dict[str, Position | None] = uow.session.info.setdefault(_LOADED, {})
    if position_id not in loaded:
        loaded[position_id] = mirror.get(position_id) or await positions_of(uow.session).get(position_id)
    return loaded[position_id]


def save_at_commit(uow: UnitOfWork, mirror: Mirror, position: Position) -> bool:
    """Write ``position`` once, just before commit (version-checked against the version read).
    True the first time in this transaction (the caller registers its after-commit work then)."""
    pid = position.s.position_id
    saving: set[str] = uow.session.info.setdefault(_SAVING, set())
    first = pid not in saving
    saving.add(pid)

    async def write(u: UnitOfWork) -> None:
        try:
            await positions_of(u.session).save(position)
        except ConflictError:
            mirror.forget(pid)  # behind the database: the replay reads it there
            raise

    uow.before_commit(("position", pid), write)
    return first
