"""Per account and trading day: realized P&L, closes, wins, entries; and the open risk."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from robson_contracts import Message, PositionClosed, PositionOpened, PositionPartiallyClosed
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_notify.adapters.tables import account_days, open_positions, reasons
from robson_notify.domain.summary import DayFigures, trading_day


async def record(session: AsyncSession, m: Message, reset: time, now: datetime) -> None:
    if isinstance(m, PositionOpened):
        await session.execute(insert(open_positions).values(
            position_id=m.position_id, account_id=m.account_id, quantity=m.quantity,
            remaining=m.quantity, initial_risk=m.initial_risk).on_conflict_do_nothing())
        await _add(session, m.account_id, trading_day(m.occurred_at, reset), now, opened=1)
    elif isinstance(m, PositionPartiallyClosed):
        await session.execute(update(open_positions)
                              .where(open_positions.c.position_id == m.position_id)
                              .values(remaining=m.remaining_quantity,
                                      realized=open_positions.c.realized + m.realized_pnl))
        await _add(session, m.account_id, trading_day(m.occurred_at, reset), now,
                   pnl=m.realized_pnl)
    elif isinstance(m, PositionClosed):
        gone = await session.execute(delete(open_positions).where(
            open_positions.c.position_id == m.position_id).returning(open_positions.c.realized))
        partial = gone.scalar() or Decimal(0)
        await _add(session, m.account_id, trading_day(m.occurred_at, reset), now,
                   pnl=m.realized_pnl - partial, closed=1, wins=int(m.realized_pnl > 0))


async def _add(session: AsyncSession, account: str, day: date, now: datetime,
               pnl: Decimal = Decimal(0),
               closed: int = 0, wins: int = 0, opened: int = 0) -> None:
    t = account_days
    stmt = insert(t).values(account_id=account, day=day, realized_pnl=pnl, closed=closed,
                            wins=wins, opened=opened, summarized=False, updated_at=now)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[t.c.account_id, t.c.day],
        set_={"realized_pnl": t.c.realized_pnl + pnl, "closed": t.c.closed + closed,
              "wins": t.c.wins + wins, "opened": t.c.opened + opened, "updated_at": now}))


async def unsummarized(session: AsyncSession) -> list[tuple[str, date, datetime, bool]]:
    """(account, day, last written, whether a later day of the account exists)."""
    later = account_days.alias("later")
    has_later = select(later.c.day).where(and_(later.c.account_id == account_days.c.account_id,
                                                later.c.day > account_days.c.day)).exists()
    rows = await session.execute(select(account_days.c.account_id, account_days.c.day,
                                        account_days.c.updated_at, has_later)
                                 .where(~account_days.c.summarized))
    return [(r[0], r[1], r[2], bool(r[3])) for r in rows]


async def figures(session: AsyncSession, account: str, day: date) -> DayFigures:
    d = (await session.execute(select(account_days).where(and_(
        account_days.c.account_id == account, account_days.c.day == day)))).one()
    o = open_positions
    risk = func.coalesce(func.sum(o.c.initial_risk * o.c.remaining / o.c.quantity), 0)
    count, open_risk = (await session.execute(
        select(func.count(), risk).where(o.c.account_id == account))).one()
    return DayFigures(account, day, Decimal(d.realized_pnl), d.closed, d.wins, d.opened,
                      int(count), Decimal(open_risk))


async def mark_summarized(session: AsyncSession, account: str, day: date) -> None:
    await session.execute(update(account_days).where(and_(
        account_days.c.account_id == account, account_days.c.day == day)).values(summarized=True))


async def remember_reasoning(session: AsyncSession, decision_id: str, text: str,
                             at: datetime) -> None:
    await session.execute(insert(reasons).values(decision_id=decision_id, reasoning=text[:1000],
                                                 at=at).on_conflict_do_nothing())


async def reasoning(session: AsyncSession, decision_id: str | None) -> str:
    if decision_id is None:
        return ""
    found = await session.execute(select(reasons.c.reasoning).where(
        reasons.c.decision_id == decision_id))
    return found.scalar() or ""


async def prune_reasons(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(reasons).where(reasons.c.at < before))
