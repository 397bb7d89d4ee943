from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter
from pydantic_settings import SettingsConfigDict
from robson_contracts import DecisionKind, SignalDetected, TradeDecision, derive_id
from robson_contracts import subjects as s
from robson_kit.auth import ReadPrincipal
from robson_kit.consumer import ConsumerSpec
from robson_kit.errors import NotYet, PermanentError
from robson_kit.service import Service
from robson_kit.settings import ServiceSettings
from robson_kit.uow import UnitOfWork
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert

metadata = MetaData()
counts = Table(
    "signal_counts", metadata,
    Column("signal_id", String(64), primary_key=True),
    Column("times", Integer, nullable=False),
    Column("handled_by", Integer),  # the pid of the process that last counted it
)


HANDLED_BY = bindparam("pid", None, type_=Integer)
"""Optional: the handler passes its process's pid."""
# Built once: executions reuse SQLAlchemy's compiled-statement cache.
COUNT_SIGNAL = (
    insert(counts).values(signal_id=bindparam("sid"), times=1, handled_by=HANDLED_BY)
    .on_conflict_do_update(index_elements=["signal_id"], set_={
        "times": counts.c.times + 1, "handled_by": HANDLED_BY})
)


class SampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROBSON_SAMPLE_", extra="ignore", populate_by_name=True)
    service_name: str = "sample"
    db_schema: str = "sample"


REMEMBER = "remember"
"""Signals of this strategy are kept in memory too (their ids start with it), as services keep
books: loaded at start-up from the table, then added to by the handler's ``after_commit``."""
REMEMBER_TWICE = "remember-twice"
"""Remembered too, but its decision is emitted twice: the outbox refuses the second copy (same
message id) at COMMIT, with an error of the server's own (a unique violation): no doubt."""
remembered: set[str] = set()
router = APIRouter()


@router.get("/remembered")
async def remembered_in_memory(who: ReadPrincipal) -> list[str]:
    return sorted(remembered)


async def load_remembered(service: Service) -> None:
    async with service.sessions() as session:
        rows = await session.execute(select(counts.c.signal_id)
                                     .where(counts.c.signal_id.startswith(REMEMBER)))
        remembered.clear()
        remembered.update(row.signal_id for row in rows)


NOT_YET_TIMES = 12
"""A 'later' signal is not ready this many times (more than ``max_deliver`` failures would allow)."""
not_yet_asked: dict[str, int] = {}


async def handle_signal(signal: SignalDetected, uow: UnitOfWork) -> None:
    if signal.strategy == "poison":
        raise PermanentError("POISON", "strategy 'poison' is refused by design")
    if signal.strategy == "later":
        asked = not_yet_asked[signal.signal_id] = not_yet_asked.get(signal.signal_id, 0) + 1
        if asked <= NOT_YET_TIMES:
            raise NotYet(f"asked {asked} times", delay=0.02)
    await uow.execute(COUNT_SIGNAL, {"sid": signal.signal_id, "pid": os.getpid()})
    if signal.strategy in (REMEMBER, REMEMBER_TWICE):
        uow.after_commit(lambda: remembered.add(signal.signal_id))
    decision = TradeDecision(
        **signal.caused(),
        message_id=derive_id("decision", signal.message_id),
        occurred_at=signal.occurred_at,
        account_id=signal.account_id,
        decision_id=str(derive_id("decision-id", signal.signal_id))[:36],
        trader_id=signal.trader_id,
        symbol=signal.symbol,
        decision=DecisionKind.WATCH,
        confidence=signal.strength,
    )
    uow.emit(decision)
    if signal.strategy == REMEMBER_TWICE:
        uow.emit(decision)


async def times_seen(uow: UnitOfWork, signal_id: str) -> int:
    row = (await uow.session.execute(select(counts.c.times).where(counts.c.signal_id == signal_id))).first()
    return row.times if row else 0


def build(settings: SampleSettings | None = None) -> Service:
    return Service(
        settings or SampleSettings(),
        Path(__file__).parent / "migrations",
        consumers=[ConsumerSpec("sample_signals", s.SIGNALS, (s.ALL_SIGNALS,), handle_signal,
                                accepts=(SignalDetected,))],
        routers=[router],
        on_start=[load_remembered],
    )


__all__ = ["build", "counts", "metadata", "times_seen", "update"]
