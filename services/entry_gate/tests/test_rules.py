"""One behaviour per rule, with the issue's default numbers."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

from robson_contracts import CheckResult, ExitReason, GateOutcome, RiskLimitBreached
from robson_entry_gate.domain.enforce import enforce
from robson_entry_gate.domain.gate import Verdict, evaluate
from robson_entry_gate.domain.killswitch import engage, unlock
from robson_entry_gate.domain.policy import EffectivePolicy, TraderPolicy
from robson_entry_gate.domain.projection import on_closed, on_opened, on_snapshot, record_verdict
from robson_entry_gate.domain.rules.base import GateContext

from .factories import (
    T0,
    account,
    closed,
    decision,
    fresh_market,
    opened,
    policy,
    snapshot,
)

D = Decimal
DEFAULT = EffectivePolicy()


def check(verdict: Verdict, rule: str) -> CheckResult:
    return next(c for c in verdict.checks if c.rule == rule)


def judge(state, d=None, p: EffectivePolicy = DEFAULT, market=None, at=T0) -> Verdict:
    d = d or decision(at=at)
    return evaluate(d, state, market if market is not None else fresh_market(at), p, at)


# --- rule 1: sizing ---------------------------------------------------------------------------

def test_sizing_with_wide_stop_sizes_to_one_percent_risk_of_capital() -> None:
    verdict = judge(account("10000"), decision(entry="100", stop="90"))
    assert verdict.outcome is GateOutcome.ALLOW_ENTRY
    assert verdict.approved_quantity == D("10")  # (100 - 90) * 10 = 100 = 1% of 10,000
    assert check(verdict, "risk_per_trade").details["binding_limit"] == "risk_per_trade"


def test_sizing_with_tight_stop_is_capped_at_twenty_percent_notional() -> None:
    verdict = judge(account("10000"), decision(entry="100", stop="99"))
    assert verdict.approved_quantity == D("20")  # 20 * 100 = 2,000 = 20% of equity
    assert check(verdict, "risk_per_trade").details["binding_limit"] == "max_notional"


def test_sizing_is_capped_by_free_balance() -> None:
    state = account("10000")
    on_snapshot(state, snapshot("10000", T0, free="500"), fresh_market(), DEFAULT.account)
    verdict = judge(state, decision(entry="100", stop="90"))
    assert verdict.approved_quantity == D("5")


def test_sizing_with_larger_requested_quantity_approves_reduced_size_and_says_so() -> None:
    verdict = judge(account("10000"), decision(entry="100", stop="90", quantity="15"))
    assert verdict.outcome is GateOutcome.ALLOW_ENTRY
    assert verdict.approved_quantity == D("10")
    sizing = check(verdict, "risk_per_trade")
    assert sizing.details["reduced"] == "true"
    assert "reduced size approved: 10" in sizing.message


def test_sizing_with_smaller_requested_quantity_keeps_it() -> None:
    verdict = judge(account("10000"), decision(entry="100", stop="90", quantity="3"))
    assert verdict.approved_quantity == D("3")


def test_sizing_without_stop_or_with_stop_on_wrong_side_denies() -> None:
    no_stop = decision().model_copy(update={"stop_loss": None})
    assert judge(account(), no_stop).reason_codes == ("STOP_LOSS_REQUIRED",)
    assert judge(account(), decision(entry="100", stop="101")).reason_codes == ("INVALID_STOP",)
    short_ok = judge(account(), decision(kind="SHORT", entry="100", stop="110"))
    assert short_ok.approved_quantity == D("10")


# --- rule 2: monthly loss ---------------------------------------------------------------------

def test_gate_with_monthly_loss_at_four_percent_denies_entry() -> None:
    state = account("10000")
    on_closed(state, closed("p1", "-400"), DEFAULT.account)
    verdict = judge(state)
    assert check(verdict, "monthly_loss").reason_code == "MONTHLY_LOSS_LIMIT"
    assert verdict.outcome is GateOutcome.DENY_ENTRY


def test_monthly_loss_counts_unrealized_loss_from_marks() -> None:
    state = account("10000")
    on_opened(state, opened("p1", qty="10", entry="100", stop="70"))
    assert check(judge(state, market=fresh_market(price="60")), "monthly_loss").passed is False
    assert check(judge(state, market=fresh_market(price="61")), "monthly_loss").passed is True


def test_monthly_loss_just_under_limit_passes_that_rule() -> None:
    state = account("10000")
    on_closed(state, closed("p1", "-399"), DEFAULT.account)
    assert check(judge(state), "monthly_loss").passed


def test_monthly_headroom_counts_a_realized_gain_only_at_the_limits_share() -> None:
    """A month's gain becomes next month's capital, whose limit is 4% of it: room for new risk
    grows by 4% of the gain, not all of it, or carried risk could exceed next month's limit."""
    state = account("10000")
    on_closed(state, closed("won", "1000"), DEFAULT.account)
    on_opened(state, opened("p1", trader="t1", qty="43", entry="100", stop="90"))  # 430 at risk
    verdict = judge(state, decision(trader="t2", entry="100", stop="90"))
    # headroom = 4% × 10,000 + 4% × 1,000 − 430 = 10: one unit at 10 of risk (not 970: 97 units)
    assert verdict.inputs["month_headroom"] == "10"
    assert verdict.approved_quantity == D("1")
    assert check(verdict, "risk_per_trade").details["binding_limit"] == "monthly_budget"


# --- rule 3: dynamic concurrency ----------------------------------------------------------------

def test_concurrency_trajectory_month_start_4_then_6_then_2_then_0() -> None:
    state = account("10000")
    figures = []
    for pnl in ("0", "200", "-400", "-200"):  # cumulative: 0%, +2%, -2%, -4%
        on_closed(state, closed(f"p{pnl}", pnl), DEFAULT.account)
        verdict = judge(state)
        figures.append(int(verdict.inputs["max_concurrency"]))
    assert figures == [4, 6, 2, 0]


def test_concurrency_with_all_slots_used_denies_and_is_capped() -> None:
    state = account("10000")
    for i in range(4):
        on_opened(state, opened(f"p{i}", trader=f"t{i}"))
    assert judge(state).reason_codes == ("RISK_BUDGET_EXHAUSTED",)
    capped = policy(concurrency={"cap": 3})
    state2 = account("10000")
    on_closed(state2, closed("w", "1000"), capped.account)
    assert judge(state2, p=capped).inputs["max_concurrency"] == "3"


def test_pending_entries_count_against_concurrency() -> None:
    state = account("10000")
    at = T0
    for i in range(4):
        at = T0 + timedelta(seconds=61 * i)
        d = decision(i, trader=f"t{i}", at=at)
        verdict = judge(state, d, at=at)
        assert verdict.allowed, verdict.reason_codes
        record_verdict(state, d, verdict, f"g{i}", at)
    assert judge(state, decision(9, trader="t9"), at=at).reason_codes == (
        "MONTHLY_LOSS_LIMIT", "RISK_BUDGET_EXHAUSTED")  # four 1% risks fill the 4% month


# --- rule 4: daily loss pause -------------------------------------------------------------------

def test_daily_loss_at_five_percent_pauses_until_next_reset() -> None:
    p = policy(monthly_loss={"enabled": False}, concurrency={"enabled": False},
               daily_reset={"time": "17:00", "timezone": "America/Chicago"})
    state = account("10000", p.account)
    on_closed(state, closed("p1", "-500"), p.account)
    verdict = judge(state, p=p)
    assert check(verdict, "daily_loss").reason_code == "DAILY_LOSS_LIMIT"
    enforce(state, fresh_market(), p.account, T0, decision())
    [lock] = state.lockouts
    assert lock.daily and lock.until.isoformat() == "2024-05-01T22:00:00+00:00"  # 17:00 CDT
    assert "LOCKED_OUT" in judge(state, p=p, at=T0 + timedelta(hours=11)).reason_codes
    after = judge(state, p=p, at=T0 + timedelta(hours=12, minutes=1),
                  market=fresh_market(T0 + timedelta(hours=12)))
    assert check(after, "lockouts").passed and check(after, "daily_loss").passed


def test_daily_loss_under_limit_passes() -> None:
    p = policy(monthly_loss={"enabled": False}, concurrency={"enabled": False})
    state = account("10000", p.account)
    on_closed(state, closed("p1", "-499"), p.account)
    assert check(judge(state, p=p), "daily_loss").passed


# --- rule 5: drawdown kill switch -----------------------------------------------------------

def test_equity_twenty_percent_below_peak_engages_kill_switch() -> None:
    state = account("10000")
    on_snapshot(state, snapshot("12000", T0 + timedelta(minutes=1)), fresh_market(), DEFAULT.account)
    on_snapshot(state, snapshot("9600", T0 + timedelta(minutes=2)), fresh_market(), DEFAULT.account)
    verdict = judge(state, at=T0 + timedelta(minutes=3))
    assert check(verdict, "drawdown").reason_code == "MAX_DRAWDOWN"
    assert verdict.kill is not None and verdict.kill.drawdown == D("0.2")
    cause = decision()
    messages = engage(state, verdict.kill, T0, cause)
    assert [m.message_type for m in messages] == ["CloseAllPositions", "RiskLimitBreached"]
    assert messages[0].reason.value == "KILL_SWITCH"
    assert isinstance(messages[1], RiskLimitBreached) and messages[1].value == D("0.2")
    later = judge(state, at=T0 + timedelta(days=3), market=fresh_market(T0 + timedelta(days=3)))
    assert "KILL_SWITCH_ENGAGED" in later.reason_codes  # no expiry: admin only
    assert unlock(state, T0, fresh_market(), DEFAULT.account) == ["KILL_SWITCH"]
    assert check(judge(state, at=T0 + timedelta(minutes=3)), "drawdown").passed


def test_drawdown_under_twenty_percent_does_not_kill() -> None:
    state = account("10000")
    on_snapshot(state, snapshot("8001", T0), fresh_market(), DEFAULT.account)
    verdict = judge(state)
    assert check(verdict, "drawdown").passed and verdict.kill is None


# --- rule 6: stop-out cooldown -------------------------------------------------------------

def test_stopout_cooldown_denies_for_fifteen_minutes_then_allows() -> None:
    state = account("10000")
    on_closed(state, closed("p1", "-10", reason=ExitReason.STOP_LOSS), DEFAULT.account)
    at14, at15 = T0 + timedelta(minutes=14), T0 + timedelta(minutes=15)
    assert judge(state, at=at14, market=fresh_market(at14)).reason_codes == ("STOPOUT_COOLDOWN",)
    assert judge(state, decision(at=at15), at=at15, market=fresh_market(at15)).allowed


def test_stopout_cooldown_scoped_per_symbol_allows_other_symbols() -> None:
    p = policy(stopout_cooldown={"scope": "SYMBOL"})
    state = account("10000", p.account)
    on_closed(state, closed("p1", "-10", reason=ExitReason.STOP_LOSS), p.account)
    eth = decision(symbol="ETHUSDT")
    market = {**fresh_market(), **fresh_market(symbol="ETHUSDT")}
    assert judge(state, eth, p=p, market=market).allowed
    assert judge(state, p=p, market=market).reason_codes == ("STOPOUT_COOLDOWN",)


def test_take_profit_exit_starts_no_cooldown() -> None:
    state = account("10000")
    on_closed(state, closed("p1", "10", reason=ExitReason.TAKE_PROFIT), DEFAULT.account)
    assert judge(state).allowed


# --- rule 7: max positions and confidence ---------------------------------------------------

def test_trader_with_three_positions_is_denied_a_fourth() -> None:
    p = policy(concurrency={"enabled": False}, positions={"max_per_trader": 3})
    state = account("10000", p.account)
    for i in range(3):
        on_opened(state, opened(f"p{i}"))
    assert judge(state, p=p).reason_codes == ("MAX_POSITIONS_TRADER",)
    assert judge(state, decision(trader="t2"), p=p).allowed


def test_account_with_ten_positions_is_denied_an_eleventh() -> None:
    p = policy(concurrency={"enabled": False}, positions={"max_per_account": 10})
    state = account("10000", p.account)
    for i in range(10):
        on_opened(state, opened(f"p{i}", trader=f"t{i}"))
    assert judge(state, decision(trader="new"), p=p).reason_codes == ("MAX_POSITIONS_ACCOUNT",)


def test_trader_override_changes_max_positions() -> None:
    p = EffectivePolicy(trader=TraderPolicy(max_positions=1))
    state = account("10000")
    on_opened(state, opened("p0"))
    assert judge(state, p=p).reason_codes == ("MAX_POSITIONS_TRADER",)


def test_confidence_below_point_six_is_denied() -> None:
    assert judge(account(), decision(confidence="0.59")).reason_codes == ("LOW_CONFIDENCE",)
    assert judge(account(), decision(confidence="0.6")).allowed


def test_gate_with_shorts_not_allowed_denies_short_entry_and_still_allows_long() -> None:
    spot = policy(allow_short=False)
    short = judge(account(), decision(kind="SHORT", entry="100", stop="110"), p=spot)
    assert short.outcome is GateOutcome.DENY_ENTRY
    assert short.reason_codes == ("SHORT_NOT_ALLOWED",)
    assert judge(account(), decision(kind="LONG"), p=spot).allowed


def test_gate_by_default_allows_short_entries() -> None:
    assert judge(account(), decision(kind="SHORT", entry="100", stop="110")).allowed


# --- rule 8: market context ---------------------------------------------------------------

def test_funding_rate_above_point_one_percent_is_denied() -> None:
    assert judge(account(), market=fresh_market(funding="0.0011")).reason_codes == (
        "FUNDING_RATE_EXTREME",)
    assert judge(account(), market=fresh_market(funding="-0.001")).allowed
    off = policy(market={"max_abs_funding_rate": None})
    assert judge(account(), p=off, market=fresh_market(funding="0.01")).allowed


def test_market_data_older_than_300_seconds_is_denied_and_missing_data_too() -> None:
    old = fresh_market(T0 - timedelta(seconds=301))
    assert judge(account(market=old), market=old).reason_codes == ("MARKET_DATA_STALE",)
    edge = fresh_market(T0 - timedelta(seconds=300))
    assert judge(account(market=edge), market=edge).allowed
    none = judge(account(), decision(), market={})
    assert "MARKET_DATA_MISSING" in none.reason_codes
    off = policy(market={"max_data_age_seconds": None})
    assert judge(account(market=old), p=off, market=old).allowed


# --- rule 9: sessions and symbol blocks ---------------------------------------------------

def test_blocked_symbol_is_denied() -> None:
    p = policy(sessions={"blocked_symbols": ["BTCUSDT"]})
    assert judge(account(), p=p).reason_codes == ("SYMBOL_BLOCKED",)


def test_sessions_weekdays_windows_and_holidays_in_a_timezone() -> None:
    # T0 is Wednesday 2024-05-01 10:00 UTC = 06:00 in New York.
    weekend_only = policy(sessions={"weekdays": [6, 7]})
    assert judge(account(), p=weekend_only).reason_codes == ("OUTSIDE_SESSION",)
    ny_morning = policy(sessions={"timezone": "America/New_York",
                                  "windows": [{"start": "09:30", "end": "16:00"}]})
    assert judge(account(), p=ny_morning).reason_codes == ("OUTSIDE_SESSION",)
    ny_early = policy(sessions={"timezone": "America/New_York",
                                "windows": [{"start": "05:00", "end": "07:00"}]})
    assert judge(account(), p=ny_early).allowed
    overnight = policy(sessions={"windows": [{"start": time(22), "end": time(11)}]})
    assert judge(account(), p=overnight).allowed
    holiday = policy(sessions={"holidays": [date(2024, 5, 1)]})
    assert judge(account(), p=holiday).reason_codes == ("HOLIDAY",)


# --- rule 10: trade frequency -------------------------------------------------------------

def test_fourth_entry_within_a_minute_is_denied_and_starts_a_cooldown() -> None:
    p = policy(concurrency={"enabled": False}, positions={"max_per_trader": 100,
                                                          "max_per_account": 100})
    state = account("100000", p.account)
    for i in range(3):
        d = decision(i, at=T0 + timedelta(seconds=i))
        verdict = judge(state, d, p=p, at=d.occurred_at)
        assert verdict.allowed, verdict.reason_codes
        record_verdict(state, d, verdict, f"g{i}", d.occurred_at)
    fourth = judge(state, decision(4), p=p, at=T0 + timedelta(seconds=10))
    assert fourth.reason_codes == ("TRADE_FREQUENCY",)
    [cooldown] = fourth.lockouts
    assert cooldown.until == T0 + timedelta(seconds=10, minutes=10)


def test_frequency_windows_count_entries_younger_than_a_minute_and_an_hour_only() -> None:
    p = policy(concurrency={"enabled": False}, positions={"max_per_trader": 100,
                                                          "max_per_account": 100})
    state = account("100000", p.account)
    now = T0 + timedelta(hours=2)
    ages = (timedelta(hours=1), timedelta(hours=1) - timedelta(microseconds=1),
            timedelta(minutes=1), timedelta(minutes=1) - timedelta(microseconds=1))
    for i, age in enumerate(ages):
        d = decision(i, at=now - age)
        record_verdict(state, d, judge(state, d, p=p, at=d.occurred_at), f"g{i}", d.occurred_at)
    details = check(judge(state, decision(9), p=p, at=now), "trade_frequency").details
    assert (details["minute"], details["hour"], details["day"]) == ("1", "3", "4")


# --- the gate -----------------------------------------------------------------------------

def test_gate_reports_every_failed_check_not_just_the_first() -> None:
    p = policy(sessions={"blocked_symbols": ["BTCUSDT"]})
    verdict = judge(account(), decision(confidence="0.1", stop="120"), p=p,
                    market=fresh_market(funding="0.5"))
    assert verdict.reason_codes == ("SYMBOL_BLOCKED", "LOW_CONFIDENCE", "FUNDING_RATE_EXTREME",
                                    "INVALID_STOP")


def test_rule_that_throws_denies_with_rule_error() -> None:
    class Broken:
        name = "broken"

        def check(self, ctx: GateContext) -> CheckResult:
            raise ZeroDivisionError("boom")

    from robson_entry_gate.domain.rules import RULES

    verdict = evaluate(decision(), account(), fresh_market(), DEFAULT, T0, (*RULES, Broken()))
    assert verdict.outcome is GateOutcome.DENY_ENTRY
    assert verdict.reason_codes == ("RULE_ERROR",)
    assert "ZeroDivisionError: boom" in check(verdict, "broken").message


def test_paused_trader_and_unknown_capital_are_denied() -> None:
    from robson_contracts import TraderStatusChanged
    from robson_entry_gate.domain.projection import on_trader_status
    from robson_entry_gate.domain.state import AccountState

    state = account()
    on_trader_status(state, TraderStatusChanged(occurred_at=T0, account_id="acc1",
                                                trader_id="t1", paused=True, reason="manual"))
    assert judge(state).reason_codes == ("TRADER_PAUSED",)
    no_default = policy(sizing={"default_capital": None})
    assert judge(AccountState(account_id="acc1"), p=no_default).reason_codes[-1] == "NO_CAPITAL_DATA"
