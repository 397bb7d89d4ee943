"""paper tells its symbols' rules (``SymbolRules`` on ``robson.venue.rules.paper.<symbol>``),
so that ``position`` sizes protective orders on paper's steps and minimums.

* at start-up (``tell_rules``, a one-shot supervised task: retried while the bus fails), for
  each symbol whose rules differ from the last ones on its subject, published directly with
  an id derived from the rules and the message they follow: a second start (or a second
  replica) publishes nothing new, and rules changed back after a change are told again;
* with every account configured (``handlers/accounts.configure``, as ``robson up``/``apply``
  and the backtest do before any order), through the transaction's outbox, ids derived from
  that command: a position service that lost them learns them again, and the one-process
  backtest, which runs no start-up task, learns them through this same handler.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from nats.js.errors import NotFoundError
from pydantic import ValidationError
from robson_contracts import DecodeError, SymbolRules, TradingMode, decode, derive_id
from robson_contracts import subjects as s
from robson_kit import logs
from robson_kit.bus import Bus

from robson_paper.domain.rules import SymbolRules as Rules

log = logs.get_logger(__name__)
LOOKUP_TIMEOUT = 5.0


def told(rules: Rules, at: datetime, message_id: uuid.UUID) -> SymbolRules | None:
    """The message for ``rules``; None (logged) for rules the contract cannot carry."""
    try:
        return SymbolRules(message_id=message_id, occurred_at=at, venue=TradingMode.PAPER,
                           symbol=rules.symbol, base_asset=rules.base, quote_asset=rules.quote,
                           tick_size=rules.tick_size, step_size=rules.step_size,
                           min_qty=rules.min_qty, max_qty=rules.max_qty,
                           min_notional=rules.min_notional)
    except ValidationError as exc:
        log.warning("paper.rules_not_told", symbol=rules.symbol, error=str(exc)[:300])
        return None


def rules_messages(table: dict[str, Rules], at: datetime, cause: uuid.UUID) -> list[SymbolRules]:
    """Every symbol's rules, caused by ``cause`` (one id per symbol and cause)."""
    out = (told(r, at, derive_id("paper-rules", symbol, cause)) for symbol, r in sorted(table.items()))
    return [m for m in out if m is not None]


async def tell_rules(bus: Bus, table: dict[str, Rules], at: datetime) -> int:
    """Publish the rules of each symbol whose subject does not hold them already; how many."""
    sent = 0
    for symbol, rules in sorted(table.items()):
        probe = told(rules, at, uuid.uuid4())
        if probe is None:
            continue
        last = await _last_told(bus, symbol)
        fingerprint = probe.fingerprint()
        if last is not None and last.fingerprint() == fingerprint:
            continue
        after = last.message_id if last is not None else "first"
        message_id = derive_id("paper-rules", fingerprint, after)
        await bus.publish(probe.model_copy(update={"message_id": message_id,
                                                   "correlation_id": message_id}))
        sent += 1
    return sent


async def _last_told(bus: Bus, symbol: str) -> SymbolRules | None:
    subject = s.venue_rules(TradingMode.PAPER, symbol)
    try:
        raw = await asyncio.wait_for(bus.js.get_last_msg(s.VENUES.name, subject), LOOKUP_TIMEOUT)
    except NotFoundError:
        return None
    try:
        found = decode(raw.data or b"", (SymbolRules,))
    except DecodeError as exc:
        log.warning("paper.rules_unreadable", subject=subject, error=str(exc))
        return None
    return found if isinstance(found, SymbolRules) else None
