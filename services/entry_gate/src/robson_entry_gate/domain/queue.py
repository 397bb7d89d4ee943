"""The entry queue: decisions denied only by a position-count limit wait for a free slot.

Priority: higher confidence first, then older first; entries older than ``max_age_seconds``
are dropped as stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from robson_contracts import CheckResult, GateDecision, GateOutcome, TradeDecision

from robson_entry_gate.domain.gate import Verdict, evaluate, gate_decision_id, to_message
from robson_entry_gate.domain.policy import AccountPolicy, EffectivePolicy
from robson_entry_gate.domain.projection import record_verdict
from robson_entry_gate.domain.state import AccountState, Market, QueuedEntry

QUEUED = CheckResult(rule="queue", passed=False, reason_code="QUEUED",
                     message="queued: re-evaluated when a position slot frees")


def enqueue(state: AccountState, decision: TradeDecision, now: datetime,
            policy: AccountPolicy) -> bool:
    if len(state.queue) >= policy.queue.max_size:
        return False
    if any(q.decision.decision_id == decision.decision_id for q in state.queue):
        return False
    state.queue.append(QueuedEntry(decision=decision, queued_at=now))
    return True


@dataclass
class Dequeued:
    decision: TradeDecision
    verdict: Verdict
    message: GateDecision


def drain(state: AccountState, market: Market, policy_for: Callable[[str], EffectivePolicy],
          account_policy: AccountPolicy, now: datetime) -> list[Dequeued]:
    """Re-evaluate queued entries in priority order. Allowed or finally denied entries leave
    the queue with a GateDecision; those still blocked only by a count stay."""
    max_age = account_policy.queue.max_age_seconds
    fresh = [q for q in state.queue if (now - q.queued_at).total_seconds() <= max_age]
    stale = [q for q in state.queue if q not in fresh]
    fresh.sort(key=lambda q: (-q.decision.confidence, q.queued_at))
    out: list[Dequeued] = []
    remaining: list[QueuedEntry] = []
    for item in fresh:
        verdict = evaluate(item.decision, state, market, policy_for(item.decision.trader_id), now)
        if verdict.queueable:
            remaining.append(item)
            continue
        gid = gate_decision_id(item.decision, "dequeued")
        record_verdict(state, item.decision, verdict, gid, now)
        message = to_message(item.decision, verdict, gid, now,
                             valid_for=account_policy.approval_valid_for)
        out.append(Dequeued(item.decision, verdict, message))
    for item in stale:
        gid = gate_decision_id(item.decision, "dequeued")
        verdict = Verdict(outcome=GateOutcome.DENY_ENTRY,
                          checks=(CheckResult(rule="queue", passed=False, reason_code="QUEUE_STALE",
                                              message=f"dropped after {max_age}s in the queue"),),
                          approved_quantity=None, inputs={})
        out.append(Dequeued(item.decision, verdict, to_message(item.decision, verdict, gid, now)))
    state.queue = remaining
    return out
