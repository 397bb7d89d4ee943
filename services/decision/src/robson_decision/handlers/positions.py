"""Position events: which positions are open (for reviews) and how closed ones went."""

from __future__ import annotations

import json
from decimal import Decimal

from robson_contracts import (
    ModificationKind,
    PositionClosed,
    PositionEvent,
    PositionModified,
    PositionOpened,
    PositionPartiallyClosed,
)
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.repository import Repository


def _tps(levels: tuple) -> list[dict[str, str]]:
    return [json.loads(t.model_dump_json()) for t in levels]


async def on_position_event(event: PositionEvent, uow: UnitOfWork) -> None:
    repo = Repository(uow.session)
    if isinstance(event, PositionOpened):
        await repo.upsert_position(
            {
                "position_id": event.position_id,
                "account_id": event.account_id,
                "trader_id": event.trader_id,
                "symbol": event.symbol,
                "side": event.side.value,
                "timeframe": await repo.decision_timeframe(event.decision_id),
                "quantity": event.quantity,
                "entry_price": event.entry_price,
                "stop_loss": event.stop_loss,
                "initial_stop": event.stop_loss,
                "take_profits": _tps(event.take_profits),
                "trailing": False,
                "opened_at": event.occurred_at,
            }
        )
    elif isinstance(event, PositionModified):
        await repo.update_position(
            event.position_id,
            stop_loss=event.stop_loss,
            take_profits=_tps(event.take_profits),
            last_suggestion=None,
            **({"trailing": True} if event.modification.kind is ModificationKind.TRAIL_SL else {}),
        )
    elif isinstance(event, PositionPartiallyClosed):
        await repo.update_position(event.position_id, quantity=event.remaining_quantity)
    elif isinstance(event, PositionClosed):
        await _closed(repo, event)


async def _closed(repo: Repository, e: PositionClosed) -> None:
    notional = e.entry_price * e.quantity
    pnl_pct = (
        (e.realized_pnl / notional * 100).quantize(Decimal("0.0001")) if notional else Decimal(0)
    )
    await repo.upsert_position(
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
    await repo.update_position(
        e.position_id, closed_at=e.occurred_at, realized_pnl=e.realized_pnl, pnl_pct=pnl_pct
    )
