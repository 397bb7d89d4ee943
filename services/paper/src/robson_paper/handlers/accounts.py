"""Account commands from the HTTP API: configure (PUT) and reset. A configured account is
about to trade: the symbols' rules are told with it (``handlers/venue_rules.py``)."""

from __future__ import annotations

from decimal import Decimal

from robson_contracts import derive_id
from robson_kit.uow import UnitOfWork

from robson_paper.handlers.venue_rules import rules_messages
from robson_paper.runtime import Runtime


async def configure(uow: UnitOfWork, runtime: Runtime, account_id: str, tenant_id: str,
                    balances: dict[str, Decimal], allow_short: bool) -> None:
    at = uow.clock.now()
    cause = derive_id("paper-put-account", account_id, at.isoformat())
    async with runtime.turn(uow, cause, cause, at) as ex:
        ex.configure_account(account_id, tenant_id, balances, allow_short)
    for told in rules_messages(runtime.rules, at, cause):  # see handlers/venue_rules.py
        uow.emit(told)


async def reset(uow: UnitOfWork, runtime: Runtime, account_id: str) -> None:
    at = uow.clock.now()
    cause = derive_id("paper-reset", account_id, at.isoformat())
    async with runtime.turn(uow, cause, cause, at) as ex:
        ex.reset_account(account_id, at)
