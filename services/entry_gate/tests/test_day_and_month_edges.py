"""Edges of the day and month calendar and the price watch: late reports, resets with no
account event, the fall-back hour, default-capital equity."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from robson_entry_gate.domain.calendar import TradingCalendar
from robson_entry_gate.domain.enforce import breaches
from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.projection import on_closed, on_opened, roll

from .factories import T0, account, closed, decision, fresh_market, opened, policy

D = Decimal


def test_close_reported_after_the_day_rolled_does_not_turn_the_carried_loss_into_a_gain() -> None:
    # A position at -300 when the day rolls (a decision at 00:00:05 rolled it), whose close at
    # 23:59:30 is consumed just after (another stream): today's P&L must not show +300.
    p = policy(monthly_loss={"enabled": False}, drawdown={"enabled": False})
    state = account("10000", p.account)
    on_opened(state, opened("p1", qty="20", entry="100", stop="50"))
    midnight = datetime(2024, 5, 2, tzinfo=UTC)
    roll(state, fresh_market(midnight, "85"), p.account, midnight + timedelta(seconds=5))
    late = midnight - timedelta(seconds=30)
    roll(state, fresh_market(midnight, "85"), p.account, late)
    on_closed(state, closed("p1", "-300", at=late), p.account)
    now = midnight + timedelta(minutes=1)
    f = Figures(state, fresh_market(now, "85"), p.account, now)
    assert f.day_pnl == 0  # was +300: a phantom gain
    # so a 500 loss today (5.15% of the day's 9,700 start) breaches the 5% daily limit
    on_closed(state, closed("p2", "-500", at=now), p.account)
    found = breaches(Figures(state, fresh_market(now, "85"), p.account, now))
    assert [b.rule for b in found] == ["daily_loss"]


def test_reset_inside_the_fall_back_hour_does_not_roll_the_day_back() -> None:
    # 2024-11-03 01:30 New York happens twice; the reset is the first (05:30 UTC). The second
    # 01:xx hour (06:00-06:59 UTC) is after the reset: still the new trading day.
    cal = TradingCalendar(time(1, 30), "America/New_York")
    assert cal.day_key(datetime(2024, 11, 3, 5, 30, tzinfo=UTC)) == "2024-11-03"
    assert cal.day_key(datetime(2024, 11, 3, 6, 15, tzinfo=UTC)) == "2024-11-03"  # 01:15 EST


async def _gate(policy_doc: dict):
    from robson_backtest.uow import MemorySession, MemoryUnitOfWork
    from robson_entry_gate.adapters.memory import (
        MemoryAccountStore,
        MemoryDecisionLog,
        MemoryMarketStore,
        MemoryPolicyStore,
    )
    from robson_entry_gate.domain.policy import AccountPolicy
    from robson_entry_gate.handlers.deps import GateDeps

    deps = GateDeps(accounts=MemoryAccountStore(), market=MemoryMarketStore(),
                    policies=MemoryPolicyStore(), log=MemoryDecisionLog())
    uow = MemoryUnitOfWork(MemorySession(), None)
    await deps.policies.put_account(uow, "acc1", AccountPolicy.model_validate(policy_doc))
    await uow.commit()
    return deps


async def _send(deps, message) -> list:
    """One message in its own transaction, as the service's consumers route it."""
    from robson_backtest.uow import MemorySession, MemoryUnitOfWork
    from robson_contracts import BalanceSnapshot, TradeDecision, TradeTick
    from robson_entry_gate.handlers.decisions import handle_trade_decision
    from robson_entry_gate.handlers.events import handle_account_event
    from robson_entry_gate.handlers.market import handle_market, wants_market

    uow = MemoryUnitOfWork(MemorySession(), None)
    if isinstance(message, TradeTick):
        if not wants_market(message, deps):
            return []
        await handle_market(message, uow, deps)
    elif isinstance(message, TradeDecision):
        await handle_trade_decision(message, uow, deps)
    else:
        assert isinstance(message, BalanceSnapshot) or hasattr(message, "position_id")
        await handle_account_event(message, uow, deps)
    return await uow.commit()


def _tick(at: datetime, price: str):
    from robson_contracts import TradeTick

    return TradeTick(occurred_at=at, symbol="BTCUSDT", price=price)


async def test_daily_limit_is_caught_on_prices_on_a_day_without_account_events() -> None:
    # A position held overnight, no fill or decision the next day: a 5.1% fall from the
    # day's start (10,000 at the reset) must flatten at the crossing tick, as it does on the
    # day of the account's last event (test_daily_loss_is_caught_by_the_price_watch...).
    from robson_contracts import CloseAllPositions

    from .factories import snapshot

    deps = await _gate({"monthly_loss": {"enabled": False}, "drawdown": {"enabled": False},
                        "concurrency": {"enabled": False}})
    await _send(deps, _tick(T0, "100"))
    await _send(deps, snapshot("10000", T0))
    await _send(deps, opened("p1", qty="100", entry="100", stop="80", at=T0))
    day2 = T0.replace(hour=0) + timedelta(days=1)
    await _send(deps, _tick(day2 + timedelta(seconds=1), "100"))
    out = []
    for i, price in enumerate(["99", "97", "95.5", "94.9", "96"], start=2):
        out += await _send(deps, _tick(day2 + timedelta(seconds=i), price))
    assert [m for m in out if isinstance(m, CloseAllPositions)], "no flatten at 94.9"


async def test_month_start_is_the_equity_at_the_reset_not_at_the_first_event_after_a_gap() -> None:
    # A position (risk 300 = 3% to its stop) carried into May at no loss; May's first account
    # event comes on the 3rd, after the price fell to 71. May has already lost 290 of its
    # 10,000 start: its headroom is 4% x 10,000 - 300 at the stop = 100, not 4% x 9,710 - 10.
    deps = await _gate({"daily_loss": {"enabled": False}})
    t = datetime(2024, 4, 30, 10, tzinfo=UTC)
    await _send(deps, _tick(t, "100"))
    await _send(deps, snapshot_at("10000", t))
    await _send(deps, opened("p1", qty="10", entry="100", stop="70", at=t))
    may = datetime(2024, 5, 1, tzinfo=UTC)
    await _send(deps, _tick(may + timedelta(seconds=1), "100"))
    await _send(deps, _tick(may + timedelta(days=2), "71"))
    [gate] = await _send(deps, decision(7, at=may + timedelta(days=2, seconds=1), trader="t2",
                                        entry="71", stop="61"))
    assert gate.inputs["month_start_capital"] == "10000"
    assert D(gate.inputs["month_headroom"]) <= 100
    assert gate.approved_quantity is None or gate.approved_quantity * 10 <= 100


def snapshot_at(equity: str, at: datetime):
    from .factories import snapshot

    return snapshot(equity, at)


def test_default_capital_equity_keeps_a_carried_loss_when_the_position_closes() -> None:
    # No BalanceSnapshot (default capital 10,000): a long from 100 carried into June at 90,
    # closed at 85, has lost 15. Equity is 9,985, not 9,995 (the month books only the 5 since
    # the month's start, and the default-capital equity sums the months' books).
    from robson_entry_gate.domain.state import AccountState

    p = policy(daily_loss={"enabled": False})
    state = AccountState(account_id="acc1")
    may = datetime(2024, 5, 20, tzinfo=UTC)
    roll(state, fresh_market(may, "100"), p.account, may)
    on_opened(state, opened("p1", qty="1", entry="100", stop="50", at=may))
    june = datetime(2024, 6, 1, 1, tzinfo=UTC)
    roll(state, fresh_market(june, "90"), p.account, june)
    assert Figures(state, fresh_market(june, "90"), p.account, june).equity == 9990
    on_closed(state, closed("p1", "-15", at=june), p.account)
    assert Figures(state, fresh_market(june, "85"), p.account, june).equity == 9985
