"""``SymbolRules`` in: the venues' filters per symbol, by which position sizes protective
orders and partial closes (``domain/lots.py``)."""

from __future__ import annotations

from robson_contracts import SymbolRules
from robson_kit import logs
from robson_kit.uow import UnitOfWork

from robson_position.adapters.venue_rules import rules_of
from robson_position.handlers.runtime import Runtime

log = logs.get_logger(__name__)


async def handle_symbol_rules(told: SymbolRules, uow: UnitOfWork, rt: Runtime) -> None:
    """Keep the newest per (venue, symbol): stored in this transaction, in memory after commit.
    An older message (redelivered, or overtaken in a retried batch) changes nothing."""
    if not rt.venue_rules.supersedes(told) or not await rules_of(uow.session).put(told):
        return
    known = rt.venue_rules.told(told.venue, told.symbol)

    def learned() -> None:
        rt.venue_rules.put(told)
        if known is None or not known.same_rules(told):
            log.info("position.venue_rules", venue=told.venue.value, symbol=told.symbol,
                     step_size=str(told.step_size), min_qty=str(told.min_qty),
                     min_notional=str(told.min_notional), tick_size=str(told.tick_size))

    uow.after_commit(learned)
