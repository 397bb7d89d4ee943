"""Read side: the dry-run check (same evaluation as the consumer) and the risk status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from robson_contracts import GateDecision, TradeDecision
from sqlalchemy.ext.asyncio import AsyncSession

from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.gate import evaluate, gate_decision_id, to_message
from robson_entry_gate.handlers.deps import GateDeps


async def dry_run(session: AsyncSession, deps: GateDeps, d: TradeDecision) -> GateDecision:
    """Evaluate exactly as the consumer would, without recording or changing anything."""
    state = await deps.accounts.read(session, d.account_id)
    policy = deps.policies.effective(d.account_id, d.trader_id)
    now = max(d.occurred_at, state.last_event_at or d.occurred_at)
    verdict = evaluate(d, state, deps.market.view, policy, now)
    return to_message(d, verdict, gate_decision_id(d, "dry-run"), now,
                      valid_for=policy.account.approval_valid_for)


async def risk_status(session: AsyncSession, deps: GateDeps, account_id: str,
                      at: datetime | None, wall: datetime) -> dict[str, Any]:
    """As of ``at``; without it, as of the account's last event (event time: during a replay
    the wall clock would put the figures in another month), or ``wall`` if it has none."""
    state = await deps.accounts.read(session, account_id)
    policy = deps.policies.account(account_id)
    last = state.last_event_at
    now = (last or wall) if at is None else max(at, last or at)
    f = Figures(state, deps.market.view, policy, now)
    loss_used = max(-f.month_pnl_pct, 0) / policy.monthly_loss.limit
    return {
        "account_id": account_id,
        "as_of": now.isoformat(),
        "figures": f.inputs(),
        "risk_budget": {
            "monthly_loss_limit": str(policy.monthly_loss.limit),
            "monthly_pnl_pct": str(f.month_pnl_pct),
            "budget_used": str(min(loss_used, 1)),
            "max_concurrency": f.max_concurrency,
            "open_positions": len(state.positions),
            "pending_entries": len(f.pending_entries),
            "slots_free": max(0, f.max_concurrency - f.open_count),
        },
        "kill_switch": {
            "engaged": state.kill_switch is not None,
            **(state.kill_switch.model_dump(mode="json") if state.kill_switch else {}),
        },
        "lockouts": [lk.model_dump(mode="json") for lk in f.active_lockouts()],
        "paused_traders": state.paused_traders,
        "queue": [{"decision_id": q.decision.decision_id, "trader_id": q.decision.trader_id,
                   "confidence": str(q.decision.confidence), "queued_at": q.queued_at.isoformat()}
                  for q in state.queue],
        "last_event_at": state.last_event_at.isoformat() if state.last_event_at else None,
    }
