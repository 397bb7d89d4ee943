"""Queries on the execution schema (inside a caller's transaction)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_contracts import FINAL_ORDER_STATUSES
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_execution.adapters.tables import (
    accounts,
    actions,
    breakers,
    fills,
    orders,
    reconciliations,
)


async def get_account(s: AsyncSession, account_id: str) -> Any:
    return (await s.execute(select(accounts).where(accounts.c.account_id == account_id))).first()


async def all_accounts(s: AsyncSession) -> list[Any]:
    return list((await s.execute(select(accounts).order_by(accounts.c.account_id))).all())


async def upsert_account(s: AsyncSession, account_id: str, **values: Any) -> None:
    stmt = insert(accounts).values(account_id=account_id, **values)
    await s.execute(stmt.on_conflict_do_update(index_elements=["account_id"], set_=values) if values
                    else stmt.on_conflict_do_nothing())


async def order_by_cid(s: AsyncSession, cid: str, lock: bool = False) -> Any:
    q = select(orders).where(orders.c.client_order_id == cid)
    return (await s.execute(q.with_for_update() if lock else q)).first()


async def order_by_exchange_id(s: AsyncSession, account_id: str, symbol: str, exchange_id: int) -> Any:
    q = select(orders).where(orders.c.account_id == account_id, orders.c.symbol == symbol,
                             orders.c.exchange_order_id == exchange_id)
    return (await s.execute(q)).first()


async def active_by_order_id(s: AsyncSession, account_id: str, order_id: str) -> Any:
    q = (select(orders).where(orders.c.account_id == account_id, orders.c.order_id == order_id,
                              orders.c.superseded.is_(False))
         .order_by(orders.c.created_at.desc()))
    return (await s.execute(q)).first()


async def rows_of_list(s: AsyncSession, account_id: str, list_id: str) -> list[Any]:
    q = select(orders).where(orders.c.account_id == account_id, orders.c.list_id == list_id,
                             orders.c.superseded.is_(False))
    return list((await s.execute(q)).all())


async def rows_by_list_client_id(s: AsyncSession, list_client_id: str) -> list[Any]:
    q = select(orders).where(orders.c.list_client_id == list_client_id)
    return list((await s.execute(q.order_by(orders.c.client_order_id))).all())


async def open_rows(s: AsyncSession, account_id: str) -> list[Any]:
    q = select(orders).where(orders.c.account_id == account_id,
                             orders.c.status.not_in(sorted(FINAL_ORDER_STATUSES)))
    return list((await s.execute(q.order_by(orders.c.created_at))).all())


async def list_orders(s: AsyncSession, account_id: str) -> list[Any]:
    q = select(orders).where(orders.c.account_id == account_id).order_by(orders.c.created_at)
    return list((await s.execute(q)).all())


async def insert_order(s: AsyncSession, **values: Any) -> bool:
    stmt = insert(orders).values(**values).on_conflict_do_nothing().returning(orders.c.client_order_id)
    return (await s.execute(stmt)).first() is not None


async def update_order(s: AsyncSession, cid: str, now: datetime, **values: Any) -> None:
    await s.execute(update(orders).where(orders.c.client_order_id == cid).values(updated_at=now, **values))


async def add_action(s: AsyncSession, action_id: str, account_id: str, symbol: str, kind: str,
                     payload: dict[str, Any], depends_on: str | None = None) -> None:
    await s.execute(insert(actions).values(
        action_id=action_id, account_id=account_id, symbol=symbol, kind=kind, payload=payload,
        depends_on=depends_on).on_conflict_do_nothing())


async def pending_actions(s: AsyncSession, account_id: str) -> list[Any]:
    q = select(actions).where(actions.c.account_id == account_id, actions.c.status == "PENDING")
    return list((await s.execute(q.order_by(actions.c.seq))).all())


async def action(s: AsyncSession, action_id: str) -> Any:
    return (await s.execute(select(actions).where(actions.c.action_id == action_id))).first()


async def update_action(s: AsyncSession, action_id: str, **values: Any) -> None:
    await s.execute(update(actions).where(actions.c.action_id == action_id).values(**values))


async def insert_fill(s: AsyncSession, **values: Any) -> bool:
    stmt = insert(fills).values(**values).on_conflict_do_nothing().returning(fills.c.trade_id)
    return (await s.execute(stmt)).first() is not None


async def fees_of(s: AsyncSession, cid: str) -> list[tuple[Decimal, str]]:
    """(commission, commission asset) of each fill of one order."""
    q = select(fills.c.fee, fills.c.fee_asset).where(fills.c.client_order_id == cid)
    return [(Decimal(r.fee), r.fee_asset) for r in (await s.execute(q)).all()]


async def list_fills(s: AsyncSession, account_id: str) -> list[Any]:
    q = select(fills).where(fills.c.account_id == account_id).order_by(fills.c.filled_at, fills.c.trade_id)
    return list((await s.execute(q)).all())


async def save_reconciliation(s: AsyncSession, **values: Any) -> None:
    await s.execute(insert(reconciliations).values(**values).on_conflict_do_nothing())


async def list_reconciliations(s: AsyncSession, account_id: str) -> list[Any]:
    q = (select(reconciliations).where(reconciliations.c.account_id == account_id)
         .order_by(reconciliations.c.completed_at.desc()))
    return list((await s.execute(q)).all())


async def last_reconciliation(s: AsyncSession, account_id: str) -> Any:
    q = (select(reconciliations).where(reconciliations.c.account_id == account_id)
         .order_by(reconciliations.c.completed_at.desc()).limit(1))
    return (await s.execute(q)).first()


async def fills_between(s: AsyncSession, account_id: str, after: datetime, until: datetime) -> list[Any]:
    """Our fills with exchange time in (after, until], with the side of their order."""
    q = (select(fills, orders.c.spec["side"].astext.label("side"))
         .join(orders, orders.c.client_order_id == fills.c.client_order_id)
         .where(fills.c.account_id == account_id, fills.c.filled_at > after, fills.c.filled_at <= until))
    return list((await s.execute(q)).all())


async def all_breakers(s: AsyncSession) -> list[Any]:
    return list((await s.execute(select(breakers))).all())


async def save_breaker(s: AsyncSession, symbol: str, now: datetime, **values: Any) -> None:
    """Store the breaker; an OPEN/CLOSED transition is announced (VenueStatusChanged) in the
    same transaction."""
    from robson_execution.handlers.venue_status import announce_breaker

    before = (await s.execute(select(breakers.c.state, breakers.c.opened_at)
                              .where(breakers.c.symbol == symbol).with_for_update())).first()
    stmt = insert(breakers).values(symbol=symbol, updated_at=now, **values)
    await s.execute(stmt.on_conflict_do_update(index_elements=["symbol"], set_={**values, "updated_at": now}))
    live = [a.account_id for a in await all_accounts(s) if a.mode == "LIVE" and a.credentials]
    await announce_breaker(s, symbol, before, now, values, live)
