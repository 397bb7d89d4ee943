"""An approval's risk counts until position reports on it, however late; the approval itself
carries a deadline, after which position refuses it; a dead-lettered approval is released."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
from robson_contracts import DeadLetter, GateDecision, GateOutcome, TradeTick, encode
from robson_contracts import subjects as s
from robson_entry_gate.domain.gate import evaluate
from robson_entry_gate.domain.projection import record_verdict, roll
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .factories import T0, account, decision, fresh_market, market_consumed, policy, snapshot

LATE = T0 + timedelta(hours=2)
"""Long past the default 900 s an approval is valid for."""


def _fill_the_month(state, p) -> None:
    """Four approvals at 1% risk each: the 4% month has no headroom left."""
    for i in range(4):
        at = T0 + timedelta(seconds=61 * i)
        d = decision(i, trader=f"t{i}", at=at)
        verdict = evaluate(d, state, fresh_market(at), p, at)
        assert verdict.allowed, verdict.reason_codes
        record_verdict(state, d, verdict, f"g{i}", at)


def test_gate_with_unreported_approvals_past_their_deadline_still_counts_their_risk() -> None:
    """Position down for two hours: the four approvals it has not acted on may still open when
    it comes back, so their risk must not be handed out again."""
    p = policy(frequency={"per_minute": None, "per_hour": None, "per_day": None})
    state = account("10000")
    _fill_the_month(state, p)
    roll(state, fresh_market(LATE), p.account, LATE)
    verdict = evaluate(decision(9, trader="t9", at=LATE), state, fresh_market(LATE), p, LATE)
    assert not verdict.allowed
    assert "MONTHLY_LOSS_LIMIT" in verdict.reason_codes
    assert verdict.inputs["open_risk"] == "400" and verdict.inputs["pending_entries"] == "4"


async def _pending_entries(api: httpx.AsyncClient) -> int:
    status = (await api.get("/accounts/acc1/risk", params={"at": (T0 + timedelta(minutes=1)).isoformat()}))
    return int(status.json()["risk_budget"]["pending_entries"])


async def _dead_letter(bus: Bus, payload: bytes, n: int) -> None:
    await bus.publish(DeadLetter(
        occurred_at=T0 + timedelta(hours=1), service="position", consumer="position_gate",
        subject=s.gate_decision("acc1", "BTCUSDT"),
        reason_code="HANDLER_FAILED", reason=f"failed {n} times", delivered_count=n,
        payload_b64=base64.b64encode(payload).decode()))


async def test_approval_carries_its_deadline_and_its_dead_letter_at_position_releases_its_risk(
        bus: Bus, gate: Service, api: httpx.AsyncClient) -> None:
    approval = await _approve_one(bus)
    assert await _pending_entries(api) == 1

    await _dead_letter(bus, b"not a gate decision", 1)
    denial = approval.model_copy(update={"outcome": GateOutcome.DENY_ENTRY})
    await _dead_letter(bus, encode(denial), 2)
    await _dead_letter(bus, encode(approval), 3)
    await wait_until(lambda: _pending_entries_reached(api, 0), message="the approval released")
    info = await bus.js.consumer_info(s.DEAD_LETTERS.name, "entry_gate_dead_approvals")
    assert info.ack_floor.stream_seq >= 3 and info.num_pending == 0


async def test_dead_letter_of_something_else_releases_nothing(
        bus: Bus, gate: Service, api: httpx.AsyncClient) -> None:
    await _approve_one(bus)
    assert await _pending_entries(api) == 1
    await _dead_letter(bus, b"{}", 1)
    await _dead_letter(bus, base64.b64decode(b"AAAA"), 2)
    await wait_until(lambda: _dead_letters_consumed(bus, 2), message="letters consumed")
    assert await _pending_entries(api) == 1


async def _approve_one(bus: Bus) -> GateDecision:
    await bus.publish(TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await bus.publish(snapshot("10000", T0))
    await wait_until(lambda: market_consumed(bus, 1), message="the price known")
    d = decision(1, at=T0 + timedelta(seconds=1))
    await bus.publish(d)
    (approval,) = await wait_until(lambda: _gate_decisions(bus, 1), message="the gate decision")
    assert approval.outcome is GateOutcome.ALLOW_ENTRY, approval.reason_codes
    assert approval.expires_at == d.occurred_at + timedelta(seconds=900)
    return approval


async def _pending_entries_reached(api: httpx.AsyncClient, n: int) -> bool:
    try:
        return await _pending_entries(api) == n
    except (KeyError, ValueError):
        return False


async def _gate_decisions(bus: Bus, n: int) -> list[GateDecision] | None:
    found = await read_stream(bus, s.ALL_GATE_DECISIONS)
    return found if len(found) >= n else None


async def _dead_letters_consumed(bus: Bus, n: int) -> bool:
    info = await bus.js.consumer_info(s.DEAD_LETTERS.name, "entry_gate_dead_approvals")
    return info.ack_floor.stream_seq >= n and info.num_pending == 0
