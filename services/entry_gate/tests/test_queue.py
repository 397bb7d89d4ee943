"""The optional entry queue for decisions blocked only by a position-count limit."""

from __future__ import annotations

from datetime import timedelta

from robson_entry_gate.domain.gate import evaluate
from robson_entry_gate.domain.projection import on_closed, on_opened
from robson_entry_gate.domain.queue import drain, enqueue

from .factories import T0, account, closed, decision, fresh_market, opened, policy


def test_entry_blocked_only_by_trader_limit_is_queued_then_allowed_when_a_slot_frees() -> None:
    p = policy(queue={"enabled": True}, positions={"max_per_trader": 1})
    state = account("10000", p.account)
    on_opened(state, opened("p1"))
    low, high = decision(1, confidence="0.75"), decision(2, confidence="0.9")
    for d in (low, high):
        verdict = evaluate(d, state, fresh_market(), p, T0)
        assert verdict.queueable and verdict.reason_codes == ("MAX_POSITIONS_TRADER",)
        assert enqueue(state, d, T0, p.account)
    assert drain(state, fresh_market(), lambda _: p, p.account, T0) == []  # still full
    at = T0 + timedelta(seconds=30)
    on_closed(state, closed("p1", "5", at=at), p.account)
    out = drain(state, fresh_market(at), lambda _: p, p.account, at)
    assert [(o.decision.decision_id, o.message.outcome.value) for o in out] == [
        ("d2", "ALLOW_ENTRY")]  # higher confidence first; d1 waits for the next slot
    assert [q.decision.decision_id for q in state.queue] == ["d1"]


def test_other_failures_are_not_queueable_and_stale_entries_are_dropped() -> None:
    p = policy(queue={"enabled": True, "max_age_seconds": 60}, positions={"max_per_trader": 1})
    state = account("10000", p.account)
    on_opened(state, opened("p1"))
    assert not evaluate(decision(1, confidence="0.1"), state, fresh_market(), p, T0).queueable
    enqueue(state, decision(2), T0, p.account)
    later = T0 + timedelta(seconds=61)
    [dropped] = drain(state, fresh_market(later), lambda _: p, p.account, later)
    assert dropped.message.reason_codes == ("QUEUE_STALE",) and state.queue == []


def test_queue_disabled_by_default() -> None:
    p = policy(positions={"max_per_trader": 1})
    state = account("10000", p.account)
    on_opened(state, opened("p1"))
    assert not evaluate(decision(1), state, fresh_market(), p, T0).queueable
