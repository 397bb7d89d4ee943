"""Position events: which positions are open (for reviews) and how closed ones went.

Every write returns the row as committed-to-be; memory takes it only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from robson_contracts import (
    ModificationKind,
    PositionClosed,
    PositionEvent,
    PositionModified,
    PositionOpened,
    PositionPartiallyClosed,
)
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.memory import Memory
from robson_decision.adapters.repository import Repository


def _tps(levels: tuple) -> list[dict[str, str]]:
    """The levels as their JSON reads back (decimals as strings), without the text between."""
    return [t.model_dump(mode="json") for t in levels]


@dataclass
class PositionProjector:
    memory: Memory
    repository: Callable[[UnitOfWork], Repository] = Repository

    async def __call__(self, event: PositionEvent, uow: UnitOfWork) -> None:
        repo = self.repository(uow)
        row = await _project(repo, event)
        if row is not None:
            uow.after_commit(lambda: self.memory.apply_position(row))


async def _project(repo: Repository, event: PositionEvent) -> dict[str, Any] | None:
    if isinstance(event, PositionOpened):
        return await repo.add_opened_position(
            {
                "position_id": event.position_id,
                "account_id": event.account_id,
                "trader_id": event.trader_id,
                "symbol": event.symbol,
                "side": event.side.value,
                "quantity": event.quantity,
                "entry_price": event.entry_price,
                "stop_loss": event.stop_loss,
                "initial_stop": event.stop_loss,
                "take_profits": _tps(event.take_profits),
                "trailing": False,
                "opened_at": event.occurred_at,
            },
            event.decision_id,
        )
    if isinstance(event, PositionModified):
        return await repo.update_position(
            event.position_id,
            stop_loss=event.stop_loss,
            take_profits=_tps(event.take_profits),
            last_suggestion=None,
            **({"trailing": True} if event.modification.kind is ModificationKind.TRAIL_SL else {}),
        )
    if isinstance(event, PositionPartiallyClosed):
        return await repo.update_position(event.position_id, quantity=event.remaining_quantity)
    if isinstance(event, PositionClosed):
        return await _closed(repo, event)
    return None


async def _closed(repo: Repository, e: PositionClosed) -> dict[str, Any] | None:
    notional = e.entry_price * e.quantity
    pnl_pct = (
        (e.realized_pnl / notional * 100).quantize(Decimal("0.0001")) if notional else Decimal(0)
    )
    await repo.add_position(
        {  # a position opened before this service saw it still counts
            "position_id": e.position_id,
            "account_id": e.account_id,
            "trader_id": e.trader_id,
            "symbol": e.symbol,
            "side": e.side.value,
            "quantity": e.quantity,
            "entry_price": e.entry_price,
            "take_profits": [],
            "trailing": False,
            "opened_at": e.opened_at,
        }
    )
    return await repo.update_position(
        e.position_id, closed_at=e.occurred_at, realized_pnl=e.realized_pnl, pnl_pct=pnl_pct
    )
