"""Binance's rules for the symbols execution trades, told on the bus (``SymbolRules`` on
``robson.venue.rules.live.<symbol>``) so that ``position`` sizes protective orders on their
steps and minimums.

A symbol is told once execution first needs its rules (an order, a reconciliation), and again
whenever an ``exchangeInfo`` refresh finds them changed: only changes, compared with what was
told last in this process (a restart tells each symbol once more as it is needed; position
keeps the newest, so that changes nothing there). The messages go through the outbox in their
own transaction, ids derived from the endpoint, the rules and the time they were found, so the
relay's retries publish each once. A failure to write them is logged and retried with the next
lookup or refresh: it never holds up an order.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from pydantic import ValidationError
from robson_contracts import SymbolRules as Told
from robson_contracts import TradingMode, derive_id
from robson_kit import logs
from robson_kit.service import Service

from robson_execution.domain.rules import SymbolRules

log = logs.get_logger(__name__)


def told(rules: SymbolRules, endpoint: str, at: datetime) -> Told | None:
    """The message for ``rules``; None for rules the contract cannot carry (no step or tick)."""
    try:
        probe = Told(occurred_at=at, venue=TradingMode.LIVE, symbol=rules.symbol,
                     base_asset=rules.base_asset, quote_asset=rules.quote_asset,
                     tick_size=rules.tick_size, step_size=rules.step_size, min_qty=rules.min_qty,
                     max_qty=rules.max_qty if rules.max_qty > 0 else None,
                     min_notional=rules.min_notional, status=rules.status)
    except ValidationError as exc:
        log.info("rules.not_told", symbol=rules.symbol, error=str(exc)[:300])
        return None
    message_id = derive_id("venue-rules", endpoint, probe.fingerprint(), at.isoformat())
    return probe.model_copy(update={"message_id": message_id, "correlation_id": message_id})


class RulesTeller:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._told: dict[tuple[str, str], SymbolRules] = {}
        self._watched: dict[str, set[str]] = {}
        self._lock = asyncio.Lock()

    async def needed(self, endpoint: str, rules: SymbolRules) -> None:
        """``rules`` were looked up to trade: from now on their changes are told."""
        self._watched.setdefault(endpoint, set()).add(rules.symbol)
        if self._told.get((endpoint, rules.symbol)) != rules:
            await self._tell(endpoint, [rules])

    async def refreshed(self, endpoint: str, table: dict[str, SymbolRules]) -> None:
        """``exchangeInfo`` was read again: tell the traded symbols whose rules changed."""
        watched = sorted(self._watched.get(endpoint, ()))
        await self._tell(endpoint, [table[s] for s in watched if s in table])

    async def _tell(self, endpoint: str, candidates: list[SymbolRules]) -> None:
        async with self._lock:
            changed = [r for r in candidates if self._told.get((endpoint, r.symbol)) != r]
            if not changed:
                return
            at = self.service.clock.now()
            messages = [(r, m) for r in changed if (m := told(r, endpoint, at)) is not None]
            try:
                async with self.service.uow() as uow:
                    for _, message in messages:
                        uow.emit(message)
            except Exception as exc:  # the next lookup or refresh tries again
                log.warning("rules.tell_failed", symbols=[r.symbol for r in changed], error=repr(exc))
                return
            for r in changed:
                self._told[(endpoint, r.symbol)] = r
            if messages:
                log.info("rules.told", endpoint=endpoint, symbols=[m.symbol for _, m in messages])
