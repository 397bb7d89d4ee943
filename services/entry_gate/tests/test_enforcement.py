"""Loss limits that act on their own, the loss cooldown, one direction per trader+symbol and
the market checks that deny or warn."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from robson_contracts import (
    CloseAllPositions,
    ExitReason,
    GateOutcome,
    RiskAction,
    RiskLimitBreached,
)
from robson_entry_gate.domain.enforce import enforce
from robson_entry_gate.domain.gate import evaluate, to_message
from robson_entry_gate.domain.killswitch import unlock
from robson_entry_gate.domain.policy import EffectivePolicy
from robson_entry_gate.domain.projection import on_closed, on_opened, roll
from robson_entry_gate.domain.state import MarketSnapshot
from robson_entry_gate.domain.watch import Move, daily_floor, replay

from .factories import T0, account, closed, decision, fresh_market, opened, policy

D = Decimal


def test_daily_loss_over_limit_flattens_locks_until_reset_and_reports_once() -> None:
    p = policy()
    state = account("10000", p.account)
    on_closed(state, closed("p1", "-500"), p.account)
    out = enforce(state, fresh_market(), p.account, T0, decision())
    close_all = next(m for m in out if isinstance(m, CloseAllPositions))
    breach = next(m for m in out if isinstance(m, RiskLimitBreached))
    assert close_all.reason is ExitReason.RISK_LIMIT
    assert breach.rule == "daily_loss" and breach.action is RiskAction.CLOSE_ALL
    assert breach.until == T0.replace(hour=0) + timedelta(days=1)
    assert breach.figures["day_pnl_pct"] == "-0.05"
    [lock] = state.lockouts
    assert lock.reason_code == "DAILY_LOSS_LIMIT" and lock.until == breach.until
    assert enforce(state, fresh_market(), p.account, T0 + timedelta(minutes=1), decision()) == []
    unlock(state, T0, fresh_market(), p.account)  # an admin unlock does not re-arm the breach
    assert enforce(state, fresh_market(), p.account, T0 + timedelta(minutes=2), decision()) == []
    assert evaluate(decision(), state, fresh_market(), p, T0).outcome is GateOutcome.DENY_ENTRY


def test_daily_loss_with_deny_new_reports_without_flattening_or_locking() -> None:
    p = policy(daily_loss={"action": "deny_new"}, monthly_loss={"enabled": False},
               concurrency={"enabled": False})
    state = account("10000", p.account)
    on_closed(state, closed("p1", "-600"), p.account)
    [breach] = enforce(state, fresh_market(), p.account, T0, decision())
    assert isinstance(breach, RiskLimitBreached) and breach.action is RiskAction.DENY
    assert state.lockouts == []


def test_lockout_ends_at_the_next_reset_and_the_new_day_can_breach_again() -> None:
    p = policy()
    state = account("10000", p.account)
    on_closed(state, closed("p1", "-500"), p.account)
    assert enforce(state, fresh_market(), p.account, T0, decision())
    tomorrow = T0 + timedelta(days=1)
    roll(state, fresh_market(tomorrow), p.account, tomorrow)
    assert state.lockouts == [] and not [b for b in state.breaches if b.startswith("day:")]
    on_closed(state, closed("p2", "-500", at=tomorrow), p.account)
    assert enforce(state, fresh_market(tomorrow), p.account, tomorrow, decision())


def test_daily_loss_is_caught_by_the_price_watch_at_the_crossing_tick() -> None:
    p = policy(monthly_loss={"enabled": False}, drawdown={"enabled": False})
    state = account("10000", p.account)
    on_opened(state, opened("p1", qty="100", entry="100", stop="80"))
    base = fresh_market()
    floor = daily_floor(state, base, p.account, T0)
    assert floor == D("9500")
    prices = ["99", "97", "95.5", "94.9", "96"]
    moves = [Move("BTCUSDT", MarketSnapshot(symbol="BTCUSDT", last_price=D(x),
                                            price_at=T0 + timedelta(seconds=i)),
                  T0 + timedelta(seconds=i), decision(), True) for i, x in enumerate(prices)]

    def view_at(i: int):
        return {"BTCUSDT": moves[i].snapshot}

    breach, _ = replay(state, base, moves, p.account, view_at, None, floor)
    assert breach is not None and breach.index == 3 and breach.request is None


def test_any_losing_exit_starts_the_loss_cooldown_but_a_winning_stop_does_not() -> None:
    for reason in (ExitReason.TRAILING_STOP, ExitReason.TIME_EXIT, ExitReason.AI_CLOSE,
                   ExitReason.MANUAL_CLOSE):
        state = account()
        on_closed(state, closed("p1", "-10", reason=reason), policy().account)
        assert "STOPOUT_COOLDOWN" in evaluate(decision(), state, fresh_market(), policy(),
                                              T0).reason_codes, reason
    state = account()
    on_closed(state, closed("p1", "15", reason=ExitReason.STOP_LOSS), policy().account)
    assert evaluate(decision(), state, fresh_market(), policy(), T0).allowed
    only_stops = policy(stopout_cooldown={"reasons": ["STOP_LOSS"]})
    state = account()
    on_closed(state, closed("p1", "-10", reason=ExitReason.AI_CLOSE), only_stops.account)
    assert evaluate(decision(), state, fresh_market(), only_stops, T0).allowed


def test_trader_holding_a_long_is_denied_a_short_on_the_same_symbol_unless_hedging() -> None:
    state = account()
    on_opened(state, opened("p1"))
    short = decision(kind="SHORT", entry="100", stop="105")
    assert "OPPOSITE_POSITION_OPEN" in evaluate(short, state, fresh_market(), policy(),
                                                T0).reason_codes
    other = decision(kind="SHORT", entry="100", stop="105", trader="t2")
    assert evaluate(other, state, fresh_market(), policy(), T0).allowed
    hedging = policy(positions={"allow_hedging": True})
    assert evaluate(short, state, fresh_market(), hedging, T0).allowed


def test_default_policy_has_no_static_caps_below_the_dynamic_budget() -> None:
    p = EffectivePolicy()
    assert p.max_per_trader is None and p.account.positions.max_per_account is None


def test_funding_missing_warns_plainly_and_allows() -> None:
    d = decision()
    verdict = evaluate(d, account(), fresh_market(), policy(), T0)
    assert verdict.allowed
    check = next(c for c in verdict.checks if c.rule == "funding_rate")
    assert check.warning and check.reason_code == "FUNDING_RATE_MISSING"
    assert "nothing to judge" in check.message
    assert to_message(d, verdict, "g", T0).warnings == ("FUNDING_RATE_MISSING",)


def test_extreme_funding_denies_and_warns_when_configured() -> None:
    market = fresh_market(funding="0.002")
    assert "FUNDING_RATE_EXTREME" in evaluate(decision(), account(), market, policy(),
                                              T0).reason_codes
    warn = policy(market={"funding": "warn"})
    verdict = evaluate(decision(), account(), market, warn, T0)
    assert verdict.allowed
    assert to_message(decision(), verdict, "g", T0).warnings == ("FUNDING_RATE_EXTREME",)


def test_stale_funding_denies_by_default_and_warns_when_configured() -> None:
    market = fresh_market(funding="0.0001")
    market["BTCUSDT"].context_at = T0 - timedelta(hours=2)
    assert "FUNDING_RATE_STALE" in evaluate(decision(), account(), market, policy(),
                                            T0).reason_codes
    warn = policy(market={"stale_funding": "warn"})
    verdict = evaluate(decision(), account(), market, warn, T0)
    assert verdict.allowed and "FUNDING_RATE_STALE" in to_message(
        decision(), verdict, "g", T0).warnings
