"""All six services as OS processes on real NATS + Postgres, fed a seeded kline replay in
lockstep: every signal is accounted for, the money adds up to the cent across services, and a
SIGKILLed position service changes nothing in the final positions, P&L and balances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio
from robson_contracts import (
    DecisionKind,
    GateOutcome,
    PositionClosed,
    PositionModified,
    PositionOpened,
)
from robson_kit.testing import wait_until

from .harness import START_USDT, Outcome, Platform, collect

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]
CENT = Decimal("0.01")
ENTRIES = (DecisionKind.LONG, DecisionKind.SHORT)


def cents(value: Decimal | str | None) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


async def finished_run(platform: Platform, bus) -> Outcome:  # type: ignore[no-untyped-def]
    await platform.wait_finished(bus)
    return await collect(platform, bus)


@pytest_asyncio.fixture(scope="module")
async def clean(platform_factory, e2e_bus) -> AsyncIterator[Outcome]:  # type: ignore[no-untyped-def]
    platform = await platform_factory()
    await platform.start_feed()
    yield await finished_run(platform, e2e_bus)


def pnl_from_fills(outcome: Outcome, position_id: str) -> Decimal:
    """Realized P&L as paper settled it: quote received − quote paid − fees, over the fills
    of every order paper holds for the position."""
    orders = {o["order_id"]: o for o in outcome.orders if o.get("position_id") == position_id}
    total = Decimal(0)
    for fill in outcome.fills:
        order = orders.get(fill["order_id"])
        if order is None:
            continue
        quote = Decimal(fill["price"]) * Decimal(fill["quantity"])
        total += quote if order["side"] == "SELL" else -quote
        total -= Decimal(fill["fee"])
    return total


def check_invariants(outcome: Outcome) -> None:
    decisions = {d.signal_id: d for d in outcome.decisions if d.position_id is None}
    gates = {g.decision.decision_id: g for g in outcome.gate_decisions}
    positions = {p["gate_decision_id"]: p for p in outcome.positions}

    assert outcome.dead_letters == [], [m.data[:300] for m in outcome.dead_letters]
    for signal in outcome.signals:
        decision = decisions.get(signal.signal_id)
        assert decision is not None, f"signal {signal.signal_id} has no decision"
        if decision.decision in ENTRIES:
            assert decision.decision_id in gates, f"entry {decision.decision_id} never judged"
    for gate in outcome.gate_decisions:
        if gate.outcome is GateOutcome.ALLOW_ENTRY:
            assert gate.gate_decision_id in positions, f"ALLOW {gate.gate_decision_id} opened nothing"

    closed = [p for p in outcome.positions if p["status"] == "CLOSED"]
    for position in closed:
        assert cents(position["realized_pnl"]) == cents(pnl_from_fills(outcome, position["position_id"])), position

    realized = sum((Decimal(p["realized_pnl"]) for p in closed), Decimal(0))
    still_open = [p for p in outcome.positions if p["status"] != "CLOSED"]
    open_cash = sum((pnl_from_fills(outcome, p["position_id"]) for p in still_open), Decimal(0))
    usdt = next(b for b in outcome.account["balances"] if b["asset"] == "USDT")
    cash = Decimal(usdt["free"]) + Decimal(usdt["locked"]) - Decimal(usdt["borrowed"])
    assert cents(cash) == cents(Decimal(START_USDT) + realized + open_cash)

    budget, figures = outcome.risk["risk_budget"], outcome.risk["figures"]
    assert budget["open_positions"] == len([p for p in still_open if p["status"] != "REJECTED"])
    assert cents(figures["realized_month"]) == cents(realized)


async def test_replay_across_all_services_accounts_for_every_signal_to_the_cent(clean: Outcome) -> None:
    events = clean.position_events
    exits = {p["exit_reason"] for p in clean.positions}
    assert any(isinstance(e, PositionOpened) for e in events)
    assert any(isinstance(e, PositionClosed) for e in events)
    assert "TAKE_PROFIT" in exits or any(c["reason"] == "TAKE_PROFIT" for p in clean.positions
                                         for c in p["closes"])
    assert exits & {"STOP_LOSS", "TRAILING_STOP", "BREAKEVEN_STOP"}, exits
    assert any(g.outcome is GateOutcome.DENY_ENTRY for g in clean.gate_decisions)
    assert any(isinstance(e, PositionModified) for e in events)
    assert clean.feed["finished"] and clean.feed["skipped_rows"] == 0
    check_invariants(clean)


async def test_position_killed_mid_run_and_restarted_ends_identical_to_clean_run(
    clean: Outcome, platform_factory, e2e_bus  # type: ignore[no-untyped-def]
) -> None:
    platform = await platform_factory()
    await platform.start_feed()

    async def first_position_open() -> bool:
        return bool(await platform.get("position", "/positions", status="open"))

    await wait_until(first_position_open, timeout=240, interval=0.2, message="a position opened")
    assert not (await platform.get("signal", "/feed"))["finished"], "the kill must land mid-run"
    platform.procs["position"].kill()
    await asyncio.sleep(2)  # the replay backs up behind position's durable consumers
    await platform.restart("position")
    crashed = await finished_run(platform, e2e_bus)

    check_invariants(crashed)
    assert crashed.final_state() == clean.final_state()
