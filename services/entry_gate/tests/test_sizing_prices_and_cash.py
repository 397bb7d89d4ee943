"""Sizing: cash spent by positions opened since the last snapshot, and the price an entry fills at."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from robson_entry_gate.domain.gate import evaluate
from robson_entry_gate.domain.policy import EffectivePolicy
from robson_entry_gate.domain.projection import (
    on_closed,
    on_opened,
    on_snapshot,
    record_verdict,
    roll,
)
from robson_entry_gate.domain.queue import drain, enqueue
from robson_entry_gate.domain.state import AccountState

from .factories import ACC, T0, account, closed, decision, fresh_market, opened, policy, snapshot

D = Decimal
DEFAULT = EffectivePolicy()


def test_free_balance_counts_a_position_opened_since_the_last_snapshot() -> None:
    """500 free: the first entry takes it all; once it has opened (no new snapshot yet) the
    cash is still spent, so a second entry must not be sized on the same 500."""
    state = account("10000")
    on_snapshot(state, snapshot("10000", T0, free="500"), fresh_market(), DEFAULT.account)
    d1 = decision(1, entry="100", stop="90")
    first = evaluate(d1, state, fresh_market(), DEFAULT, T0)
    assert first.approved_quantity == D("5")
    record_verdict(state, d1, first, "g1", T0)
    at = T0 + timedelta(seconds=5)
    on_opened(state, opened("p1", at=at, qty="5", entry="100", stop="90", gid="g1"))
    second = evaluate(decision(2, trader="t2", entry="100", stop="90", at=at), state,
                      fresh_market(at), DEFAULT, at)
    assert not second.allowed, second.approved_quantity


def test_free_balance_without_a_snapshot_counts_open_positions() -> None:
    """Default capital (no snapshot yet): a position opened with it has spent it, so the next
    entry is not sized on the same 10,000 of cash."""
    p = policy(sizing={"max_position_notional": "1"})
    state = AccountState(account_id=ACC)
    roll(state, fresh_market(), p.account, T0)
    d1 = decision(1, entry="100", stop="99")
    first = evaluate(d1, state, fresh_market(), p, T0)
    assert first.approved_quantity == D("100")  # 10,000 of notional: all the cash
    record_verdict(state, d1, first, "g1", T0)
    at = T0 + timedelta(seconds=5)
    on_opened(state, opened("p1", at=at, qty="100", entry="100", stop="99", gid="g1"))
    second = evaluate(decision(2, trader="t2", entry="100", stop="99", at=at), state,
                      fresh_market(at), p, at)
    assert not second.allowed, (second.approved_quantity, second.inputs["free_quote"])


def test_entry_is_sized_on_the_current_price_when_the_decisions_price_is_behind_it() -> None:
    """Position enters at market: a LONG decided at 100 (stop 95) while the market is already at
    110 fills near 110, so its loss at the stop is (110 − 95) × qty. Sized on the decision's 100
    (qty 20), that is 300: three times the 1% a trade may risk. SHORT likewise below."""
    state = account("10000")
    long = evaluate(decision(1, entry="100", stop="95"), state, fresh_market(price="110"),
                    DEFAULT, T0)
    assert long.allowed
    assert long.approved_quantity * (D("110") - D("95")) <= D("100"), long.approved_quantity
    short = evaluate(decision(2, kind="SHORT", entry="100", stop="105"), state,
                     fresh_market(price="90"), DEFAULT, T0)
    assert short.allowed
    assert short.approved_quantity * (D("105") - D("90")) <= D("100"), short.approved_quantity


def test_a_queued_entry_released_later_is_sized_on_the_price_then() -> None:
    """Queued at 100 while the trader's slot is taken; two minutes later the slot frees and the
    market is at 104: the released approval fills near 104, so it must be sized there."""
    p = policy(queue={"enabled": True}, positions={"max_per_trader": 1})
    state = account("10000", p.account)
    on_opened(state, opened("p1"))
    d = decision(1, entry="100", stop="98")
    assert evaluate(d, state, fresh_market(), p, T0).queueable
    assert enqueue(state, d, T0, p.account)
    at = T0 + timedelta(minutes=2)
    on_closed(state, closed("p1", "0", at=at), p.account)
    [out] = drain(state, fresh_market(at, price="104"), lambda _: p, p.account, at)
    assert out.verdict.allowed
    qty = out.verdict.approved_quantity
    assert qty * (D("104") - D("98")) <= D("100"), qty  # 1% of 10,000 at the stop
