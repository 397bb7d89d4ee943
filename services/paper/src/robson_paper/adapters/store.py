"""Persistence of the exchange: load everything live at start, write what a message changed."""

from __future__ import annotations

import json
from decimal import Decimal

from robson_contracts import derive_id
from robson_kit.rawtx import send_with_commit
from robson_kit.uow import driver_connection
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from robson_paper.adapters import upserts
from robson_paper.adapters.tables import accounts, market_state, orders
from robson_paper.domain import EngineConfig, Exchange
from robson_paper.domain.events import Event, Filled
from robson_paper.domain.market import MarketState
from robson_paper.domain.model import Account, Order
from robson_paper.domain.rules import SymbolRules

Row = tuple[object, ...]


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


# The writes before each commit travel with the COMMIT when the kit owns the transaction and
# they are few (a round trip fewer per transaction; nothing reads their answer), else straight
# to the transaction's asyncpg connection (the kit's ``driver_connection``): a statement
# through SQLAlchemy costs ~165 µs of CPU, on asyncpg ~60 µs. Either way each table's rows are
# one statement (``upserts.py``); the rows of a flush have distinct keys, as the ON CONFLICT
# DO UPDATE needs.
LITERAL_MAX_ROWS = 8
"""Above this many rows the parameterized statement is cheaper than literals, round trip
included (measured with a local Postgres: a command's flush of 1–3 orders took ~130 µs less
client CPU as literals, 10 orders the same, 30 and 100 more CPU and 6–78% more wall time: the
server parses every literal). A burst's batches are the large ones; their round trip is shared
by many messages already."""


async def flush(session: AsyncSession, ex: Exchange, events: list[Event],
                markets: set[str] | None = None) -> None:
    """Upsert every changed order and account and the given market rows (default: every
    changed one); insert new fills."""
    markets = ex.dirty_markets if markets is None else markets
    writes = (
        (upserts.ORDERS, [_order_row(o) for o in ex.dirty_orders.values()]),
        (upserts.ACCOUNTS, [_account_row(ex.accounts[i]) for i in sorted(ex.dirty_accounts)
                            if i in ex.accounts]),
        (upserts.MARKETS, [_market_row(ex.markets[s]) for s in sorted(markets)]),
        (upserts.FILLS, [_fill_row(e) for e in events if isinstance(e, Filled)]),
    )
    due = [(upsert, rows) for upsert, rows in writes if rows]
    if due and not with_commit(session, due):
        statement = upserts.combined(tuple(upsert.parameterized for upsert, _ in due))
        params = [column for _, rows in due for column in _columns(rows)]
        await (await driver_connection(session)).execute(statement, *params)
    ex.dirty_orders.clear()
    ex.dirty_accounts.clear()


def with_commit(session: AsyncSession, due: list[tuple[upserts.Upsert, list[Row]]]) -> bool:
    """Queue ``due`` to go with the COMMIT, as literals: True when the kit owns the
    transaction, the rows are at most ``LITERAL_MAX_ROWS`` and every value can be a literal."""
    if sum(len(rows) for _, rows in due) > LITERAL_MAX_ROWS:
        return False
    return send_with_commit(session, lambda: upserts.literal(due))


def _columns(rows: list[Row]) -> list[list[object]]:
    """The rows as one array per column: the unnest statements' parameters."""
    return [list(column) for column in zip(*rows, strict=True)]


def _order_row(o: Order) -> Row:
    return (o.account_id, o.order_id, o.symbol, o.status.value, o.live, o.list_id,
            o.position_id, o.seq, o.updated_at, json.dumps(o.to_json()))


def _account_row(a: Account) -> Row:
    return (a.account_id, a.tenant_id, json.dumps(a.to_json()))


def _market_row(m: MarketState) -> Row:
    return (m.symbol, m.last_price, m.last_time, m.recent_range)


def _fill_row(e: Filled) -> Row:
    return (fill_id(e), e.ref.account_id, e.ref.order_id, e.ref.symbol, e.side.value, e.price,
            e.quantity, e.fee, e.fee_asset, e.liquidity.value, e.at, e.fill_no)


__all__ = ["Decimal", "fill_id", "flush", "load"]
