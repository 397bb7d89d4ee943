"""Clock ticks: the loss limits are judged on a timer too, so a breach that no new event
reveals (a policy lowered, a limit crossed while the bus is quiet) still acts."""

from __future__ import annotations

import asyncio

from robson_kit import logs
from robson_kit.service import Service

from robson_entry_gate.domain.enforce import breaches
from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.handlers.deps import GateDeps, finish

log = logs.get_logger(__name__)


async def sweep(service: Service, deps: GateDeps) -> int:
    """Enforce every committed account whose figures (at its own event time) breach a limit;
    returns how many acted. Reads the cache; locks only an account that needs acting on."""
    due = []
    for state, _ in deps.accounts.committed(deps.accounts.account_ids()):
        if state.kill_switch is not None or state.last_event_at is None:
            continue
        policy = deps.policies.account(state.account_id)
        if breaches(Figures(state, deps.market.view, policy, state.last_event_at)):
            due.append(state.account_id)
    for account_id in due:
        async with service.uow() as uow:
            state, version = await deps.accounts.lock(uow.session, account_id)
            now = state.last_event_at or service.clock.now()
            await finish(uow, deps, state, version, now, None)
    return len(due)


def limits_loop(deps: GateDeps, interval: float):
    async def loop(service: Service) -> None:
        while True:
            await asyncio.sleep(interval)
            acted = await sweep(service, deps)
            if acted:
                log.info("gate.limits_sweep", acted=acted)

    loop.__name__ = "limits_clock"
    return loop
