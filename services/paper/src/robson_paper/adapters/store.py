"""Persistence of the exchange: load everything live at start, write what a message changed."""

from __future__ import annotations

from decimal import Decimal

from robson_contracts import derive_id
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_paper.adapters.tables import accounts, fills, market_state, orders
from robson_paper.domain import EngineConfig, Exchange
from robson_paper.domain.events import Event, Filled
from robson_paper.domain.market import MarketState
from robson_paper.domain.model import Account, Order
from robson_paper.domain.rules import SymbolRules


def fill_id(event: Filled) -> str:
    return str(derive_id("paper-fill", event.ref.account_id, event.ref.order_id, event.fill_no))


async def load(session: AsyncSession, config: EngineConfig,
               rules: dict[str, SymbolRules]) -> Exchange:
    ex = Exchange(config, rules)
    for row in (await session.execute(select(accounts.c.data))).all():
        account = Account.from_json(row.data)
        ex.accounts[account.account_id] = account
    for row in (await session.execute(select(market_state))).all():
        ex.markets[row.symbol] = MarketState(row.symbol, row.last_price, row.last_time,
                                             row.recent_range)
    live = await session.execute(
        select(orders.c.data).where(orders.c.live.is_(True)).order_by(orders.c.seq))
    for row in live.all():
        ex.place(Order.from_json(row.data))
    done = await session.execute(
        select(orders.c.account_id, orders.c.order_id).where(orders.c.live.is_(False)))
    ex.finished = {(r.account_id, r.order_id) for r in done.all()}
    top = await session.execute(select(orders.c.seq).order_by(orders.c.seq.desc()).limit(1))
    ex.seq = top.scalar() or 0
    return ex


def _upsert(table, keys: list[str], updated: tuple[str, ...]):  # type: ignore[no-untyped-def]
    stmt = insert(table)
    return stmt.on_conflict_do_update(index_elements=keys,
                                      set_={c: stmt.excluded[c] for c in updated})


# Built once: constructing an upsert per flush costs more than executing it from the cache.
_ORDERS = _upsert(orders, ["account_id", "order_id"],
                  ("status", "live", "updated_at", "data", "list_id", "position_id"))
_ACCOUNTS = _upsert(accounts, ["account_id"], ("data",))
_MARKETS = _upsert(market_state, ["symbol"], ("last_price", "last_time", "recent_range"))
_FILLS = insert(fills).on_conflict_do_nothing()


async def flush(session: AsyncSession, ex: Exchange, events: list[Event],
                markets: set[str] | None = None) -> None:
    """Upsert every changed order and account and the given market rows (default: every
    changed one); insert new fills."""
    markets = ex.dirty_markets if markets is None else markets
    if ex.dirty_orders:
        await session.execute(_ORDERS, [_order_row(o) for o in ex.dirty_orders.values()])
    if ex.dirty_accounts:
        rows = [{"account_id": a.account_id, "tenant_id": a.tenant_id, "data": a.to_json()}
                for a in (ex.accounts[i] for i in sorted(ex.dirty_accounts) if i in ex.accounts)]
        await session.execute(_ACCOUNTS, rows)
    if markets:
        await session.execute(_MARKETS, [_market_row(ex.markets[s]) for s in sorted(markets)])
    new_fills = [_fill_row(e) for e in events if isinstance(e, Filled)]
    if new_fills:
        await session.execute(_FILLS, new_fills)
    ex.dirty_orders.clear()
    ex.dirty_accounts.clear()


def _order_row(o: Order) -> dict[str, object]:
    return {"account_id": o.account_id, "order_id": o.order_id, "symbol": o.symbol,
            "status": o.status.value, "live": o.live, "list_id": o.list_id,
            "position_id": o.position_id, "seq": o.seq, "updated_at": o.updated_at,
            "data": o.to_json()}


def _market_row(m: MarketState) -> dict[str, object]:
    return {"symbol": m.symbol, "last_price": m.last_price, "last_time": m.last_time,
            "recent_range": m.recent_range}


def _fill_row(e: Filled) -> dict[str, object]:
    return {"fill_id": fill_id(e), "account_id": e.ref.account_id, "order_id": e.ref.order_id,
            "symbol": e.ref.symbol, "side": e.side.value, "price": e.price, "quantity": e.quantity,
            "fee": e.fee, "fee_asset": e.fee_asset, "liquidity": e.liquidity.value,
            "filled_at": e.at, "fill_no": e.fill_no}


__all__ = ["Decimal", "fill_id", "flush", "load"]
