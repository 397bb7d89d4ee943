"""Read side for the HTTP API: straight from the committed tables."""

from __future__ import annotations

from typing import Any

from robson_kit.db import plain_row
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from robson_paper.adapters.tables import accounts as accounts_t
from robson_paper.adapters.tables import fills as fills_t
from robson_paper.adapters.tables import market_state
from robson_paper.adapters.tables import orders as orders_t
from robson_paper.domain.market import MarketState
from robson_paper.domain.model import Account
from robson_paper.domain.valuation import balances, equity


async def _markets(session: AsyncSession) -> dict[str, MarketState]:
    rows = (await session.execute(select(market_state))).all()
    return {r.symbol: MarketState(r.symbol, r.last_price, r.last_time, r.recent_range) for r in rows}


def _account_view(account: Account, markets: dict[str, MarketState]) -> dict[str, Any]:
    value = equity(account, markets)
    return {
        "account_id": account.account_id, "tenant_id": account.tenant_id,
        "allow_short": account.allow_short,
        "starting_balances": {k: format(v, "f") for k, v in account.starting.items()},
        "balances": [{"asset": a, "free": format(f, "f"), "locked": format(lk, "f"),
                      "borrowed": format(b, "f")} for a, f, lk, b in balances(account)],
        "equity": format(value, "f") if value is not None else None,
    }


async def accounts(session: AsyncSession) -> list[dict[str, Any]]:
    markets = await _markets(session)
    rows = (await session.execute(select(accounts_t.c.data).order_by(accounts_t.c.account_id))).all()
    return [_account_view(Account.from_json(r.data), markets) for r in rows]


async def account(session: AsyncSession, account_id: str) -> dict[str, Any] | None:
    row = (await session.execute(
        select(accounts_t.c.data).where(accounts_t.c.account_id == account_id))).first()
    if row is None:
        return None
    return _account_view(Account.from_json(row.data), await _markets(session))


async def orders(session: AsyncSession, account_id: str | None, status: str | None,
                 symbol: str | None, list_id: str | None, position_id: str | None,
                 limit: int) -> list[dict[str, Any]]:
    q = select(orders_t.c.data).order_by(orders_t.c.seq).limit(limit)
    if account_id:
        q = q.where(orders_t.c.account_id == account_id)
    if status == "OPEN":
        q = q.where(orders_t.c.live.is_(True))
    elif status:
        q = q.where(orders_t.c.status == status)
    if symbol:
        q = q.where(orders_t.c.symbol == symbol)
    if list_id:
        q = q.where(orders_t.c.list_id == list_id)
    if position_id:
        q = q.where(orders_t.c.position_id == position_id)
    return [r.data for r in (await session.execute(q)).all()]


async def live_orders(session: AsyncSession, after_seq: int, limit: int,
                      accounts: list[str] | None) -> list[dict[str, Any]]:
    """Live orders after ``after_seq`` in seq order, ids only (``accounts``: None = all). A
    keyset page: seq is unique and only grows, so an order placed while a reader pages through
    is on a later page. ``live`` plain (not ``IS true``) matches the partial index's predicate."""
    q = (select(orders_t.c.account_id, orders_t.c.order_id, orders_t.c.seq)
         .where(orders_t.c.live, orders_t.c.seq > after_seq).order_by(orders_t.c.seq).limit(limit))
    if accounts is not None:
        q = q.where(orders_t.c.account_id.in_(accounts))
    # keyed by plain str, not the columns' names (``robson_kit.db.plain_row``): the stop
    # watchdog reads every live order each round
    return [{"account_id": account_id, "order_id": order_id, "seq": seq}
            for account_id, order_id, seq in (await session.execute(q)).all()]


async def order(session: AsyncSession, account_id: str, order_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(orders_t.c.data).where(
        orders_t.c.account_id == account_id, orders_t.c.order_id == order_id))).first()
    return row.data if row else None


async def fills(session: AsyncSession, account_id: str | None, symbol: str | None,
                order_id: str | None, limit: int) -> list[dict[str, Any]]:
    q = select(fills_t).order_by(fills_t.c.filled_at, fills_t.c.order_id, fills_t.c.fill_no)
    if account_id:
        q = q.where(fills_t.c.account_id == account_id)
    if symbol:
        q = q.where(fills_t.c.symbol == symbol)
    if order_id:
        q = q.where(fills_t.c.order_id == order_id)
    rows = (await session.execute(q.limit(limit))).mappings().all()
    return [{k: (format(v, "f") if k in ("price", "quantity", "fee") else v)
             for k, v in plain_row(r).items()} for r in rows]
