"""Pure domain: exchange rules, client ids, circuit breaker, pacing, outcomes, reconciliation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from robson_execution.domain.backoff import backoff_delay
from robson_execution.domain.breaker import BreakerState, CircuitBreaker
from robson_execution.domain.ids import client_order_id, is_ours, is_valid_client_order_id
from robson_execution.domain.outcomes import Kind, classify_http
from robson_execution.domain.pacing import RatePacer, retry_after_seconds
from robson_execution.domain.reconcile import LocalOrder, VenueOrder, reconcile
from robson_execution.domain.rules import Placeable, Rejection, SymbolRules, fit_order

from .fakes.filters import EXCHANGE_INFO

RULES = SymbolRules.from_exchange_info(EXCHANGE_INFO["symbols"][0])
T = datetime(2024, 1, 1, tzinfo=UTC)
D = Decimal


def test_fit_order_rounds_quantity_down_to_step_and_price_to_tick() -> None:
    fit = fit_order(RULES, D("0.0123456"), D("60000.123"), None, None)
    assert fit == Placeable(D("0.01234"), D("60000.12"), None)


def test_fit_order_below_min_notional_is_rejected_with_reason_code() -> None:
    fit = fit_order(RULES, D("0.00001"), D("100"), None, None)
    assert isinstance(fit, Rejection) and fit.reason_code == "NOTIONAL_BELOW_MIN"


def test_fit_order_quantity_rounding_to_zero_is_rejected() -> None:
    fit = fit_order(RULES, D("0.000001"), None, None, D("60000"))
    assert isinstance(fit, Rejection) and fit.reason_code == "QUANTITY_BELOW_MIN"


def test_fit_order_market_uses_reference_price_for_notional() -> None:
    assert isinstance(fit_order(RULES, D("0.0001"), None, None, D("60000")), Placeable)
    assert isinstance(fit_order(RULES, D("0.0001"), None, None, D("60")), Rejection)


def test_fit_order_price_above_max_is_rejected() -> None:
    fit = fit_order(RULES, D("1"), D("2000000"), None, None)
    assert isinstance(fit, Rejection) and fit.reason_code == "PRICE_ABOVE_MAX"


@settings(max_examples=100, deadline=None)
@given(qty=st.decimals(min_value=D("0.00001"), max_value=D("100"), places=8),
       price=st.decimals(min_value=D("1"), max_value=D("100000"), places=4))
def test_fit_order_never_exceeds_requested_quantity_and_respects_filters(qty: Decimal, price: Decimal) -> None:
    fit = fit_order(RULES, qty, price, None, None)
    if isinstance(fit, Placeable):
        assert fit.quantity <= qty
        assert fit.quantity % RULES.step_size == 0 and fit.price % RULES.tick_size == 0
        assert fit.quantity * fit.price >= RULES.min_notional


def test_client_order_id_is_deterministic_short_and_binance_safe() -> None:
    mid = uuid.uuid4()
    a, b = client_order_id(mid, "o1"), client_order_id(mid, "o1")
    assert a == b and len(a) <= 36 and is_valid_client_order_id(a) and is_ours(a)
    assert client_order_id(mid, "o2") != a and client_order_id(uuid.uuid4(), "o1") != a


def test_breaker_opens_after_threshold_then_half_opens_after_cool_down() -> None:
    b = CircuitBreaker("BTCUSDT", threshold=2, cool_down=timedelta(seconds=10))
    b = b.record_failure(T, "timeout")
    assert b.state is BreakerState.CLOSED and b.allows(T)
    b = b.record_failure(T, "timeout")
    assert b.state is BreakerState.OPEN and not b.allows(T + timedelta(seconds=5))
    assert b.current(T + timedelta(seconds=10)).state is BreakerState.HALF_OPEN


def test_breaker_half_open_probe_failure_reopens_and_success_closes() -> None:
    b = CircuitBreaker("BTCUSDT", threshold=1, cool_down=timedelta(seconds=1)).record_failure(T, "x")
    probe_time = T + timedelta(seconds=2)
    assert b.record_failure(probe_time, "y").state is BreakerState.OPEN
    assert b.record_failure(probe_time, "y").opened_at == probe_time
    assert b.current(probe_time).record_success().state is BreakerState.CLOSED


def test_pacer_waits_out_retry_after_ban() -> None:
    p = RatePacer().ban(retry_after_seconds({"Retry-After": "7"}), now=100.0)
    assert p.delay(101.0) == 6.0 and p.delay(108.0) == 0.0


def test_pacer_slows_down_near_weight_limit_until_window_ends() -> None:
    p = RatePacer(weight_limit=1000).observe({"X-MBX-USED-WEIGHT-1M": "900"}, now=120.0)
    assert p.delay(130.0) > 0
    assert RatePacer(weight_limit=1000).observe({"x-mbx-used-weight-1m": "10"}, now=120.0).delay(130.0) == 0


def test_pacer_holds_orders_near_order_count_limit() -> None:
    p = RatePacer(order_limit_10s=10).observe({"X-MBX-ORDER-COUNT-10S": "9"}, now=5.0)
    assert p.delay(5.0, is_order=True) > 0 and p.delay(5.0, is_order=False) == 0


def test_outcomes_classify_unknown_rejected_and_rate_limited() -> None:
    assert classify_http(503, 0, "").kind is Kind.UNKNOWN
    assert classify_http(400, -1007, "timeout").kind is Kind.UNKNOWN
    assert classify_http(429, -1003, "", 3).kind is Kind.RATE_LIMITED
    assert classify_http(418, -1003, "").kind is Kind.RATE_LIMITED
    assert classify_http(400, -2013, "").kind is Kind.NOT_FOUND
    assert classify_http(400, -1013, "Filter failure").kind is Kind.REJECTED


def test_backoff_grows_and_is_capped() -> None:
    top = lambda a, b: b  # noqa: E731
    assert backoff_delay(1, 0.2, 10, top) == 0.2
    assert backoff_delay(3, 0.2, 10, top) == 0.8
    assert backoff_delay(20, 0.2, 10, top) == 10


def test_reconcile_applies_each_rule() -> None:
    ours = client_order_id(uuid.uuid4(), "x")
    local = [
        LocalOrder("rbpending", "BTCUSDT", "PENDING", D(0)),
        LocalOrder("rbgone", "BTCUSDT", "PENDING", D(0)),
        LocalOrder("rbfilled", "BTCUSDT", "NEW", D(0)),
        LocalOrder("rbcanceled", "BTCUSDT", "NEW", D(0)),
    ]
    queried = {
        "rbpending": VenueOrder("rbpending", "BTCUSDT", "NEW", D(0)),
        "rbgone": None,
        "rbfilled": VenueOrder("rbfilled", "BTCUSDT", "FILLED", D(1)),
        "rbcanceled": VenueOrder("rbcanceled", "BTCUSDT", "CANCELED", D(0)),
    }
    venue_open = [VenueOrder(ours, "BTCUSDT", "NEW", D(0)), VenueOrder("manual1", "BTCUSDT", "NEW", D(0))]
    got = {(d.kind, d.action, d.client_order_id) for d in reconcile(local, queried, venue_open)}
    assert got == {
        ("ORDER_FOUND_ON_VENUE", "ADOPTED", "rbpending"),
        ("PENDING_ABSENT", "APPLIED", "rbgone"),
        ("MISSED_FILL", "APPLIED", "rbfilled"),
        ("CANCELED_ON_VENUE", "APPLIED", "rbcanceled"),
        ("UNKNOWN_ORDER", "CANCELED", ours),
        ("UNKNOWN_ORDER", "FLAGGED", "manual1"),
    }


def test_reconcile_of_matching_records_reports_nothing() -> None:
    local = [LocalOrder("rba", "BTCUSDT", "NEW", D(0))]
    venue = VenueOrder("rba", "BTCUSDT", "NEW", D(0))
    assert reconcile(local, {"rba": venue}, [venue]) == []


def test_clock_offset_takes_the_server_stamp_as_made_mid_round_trip() -> None:
    from robson_execution.domain.timesync import clock_offset_ms
    assert clock_offset_ms(server_ms=10_050, sent_ms=1_000, received_ms=1_100) == 9_000
    assert clock_offset_ms(server_ms=1_000, sent_ms=31_000, received_ms=31_000) == -30_000


def test_time_sync_is_due_first_then_after_interval_and_retries_failures_later() -> None:
    from robson_execution.domain.timesync import TimeSync
    sync = TimeSync(interval=300, retry=5)
    assert sync.due(0.0)
    synced = sync.synced(-120, now=10.0)
    assert not synced.due(309.0) and synced.due(310.0) and synced.offset_ms == -120
    failed = synced.failed(now=400.0)
    assert not failed.due(404.0) and failed.due(405.0) and failed.offset_ms == -120
    assert synced.expired().due(11.0)


def test_balances_explained_by_fills_and_fees_are_not_flagged_but_a_withdrawal_is() -> None:
    from robson_execution.domain.balances import FillDelta, Tolerance, compare_balances
    buy = FillDelta("BUY", "BTC", "USDT", D("0.5"), D("60000"), D("30"), "USDT")
    sell = FillDelta("SELL", "BTC", "USDT", D("0.2"), D("61000"), D("0.0002"), "BTC")
    before = {"BTC": D("1"), "USDT": D("100000")}
    after = {"BTC": D("1.2998"), "USDT": D("100000") - D("30000") - D("30") + D("12200")}
    assert compare_balances(before, [buy, sell], after, Tolerance()) == []
    withdrawn = {**after, "BTC": after["BTC"] - D("0.1")}
    [mismatch] = compare_balances(before, [buy, sell], withdrawn, Tolerance())
    assert (mismatch.asset, mismatch.expected, mismatch.actual) == ("BTC", D("1.2998"), D("1.1998"))


def test_balance_difference_within_tolerance_is_not_flagged() -> None:
    from robson_execution.domain.balances import Tolerance, compare_balances
    tol = Tolerance(absolute=D("0.00000001"), ratio=D("0.0001"))
    assert compare_balances({"USDT": D("10000")}, [], {"USDT": D("10000.99")}, tol) == []
    assert len(compare_balances({"USDT": D("10000")}, [], {"USDT": D("10001.01")}, tol)) == 1
    assert compare_balances({}, [], {"BNB": D("0.000000009")}, tol) == []


def test_bracket_children_cover_the_filled_quantity_and_wait_while_too_small() -> None:
    from robson_execution.domain.brackets import ChildLeg, Limits, child_quantities
    legs = [ChildLeg("tp1", D("0.5"), D("65000")), ChildLeg("tp2", D("0.3"), D("70000")),
            ChildLeg("sl", None, D("55000"))]
    limits = Limits(step_size=D("0.001"), min_qty=D("0.001"), min_notional=D("5"))
    assert child_quantities(legs, D("0.01"), limits, entry_done=False) == {
        "tp1": D("0.005"), "tp2": D("0.003"), "sl": D("0.002")}
    assert child_quantities(legs, D("0.002"), limits, entry_done=False) == {"tp1": D("0.001"), "sl": D("0.001")}
    assert child_quantities(legs, D("0.001"), limits, entry_done=True) == {"sl": D("0.001")}


@settings(max_examples=100, deadline=None)
@given(filled=st.decimals(min_value=D("0.001"), max_value=D("50"), places=3),
       fraction=st.decimals(min_value=D("0.05"), max_value=D("1"), places=2))
def test_bracket_children_never_cover_more_than_filled(filled: Decimal, fraction: Decimal) -> None:
    from robson_execution.domain.brackets import ChildLeg, Limits, child_quantities
    legs = [ChildLeg("tp", fraction, D("65000")), ChildLeg("sl", None, D("55000"))]
    got = child_quantities(legs, filled, Limits(step_size=D("0.001")), entry_done=True)
    assert sum(got.values(), D(0)) == filled and all(q > 0 for q in got.values())


def test_bracket_children_protect_what_a_buy_entry_holds_after_its_base_asset_fees() -> None:
    """Binance takes a BUY's commission from the base asset it buys (unless paid with BNB):
    only that part reduces what the children may sell; position counts it the same way."""
    from robson_execution.domain.brackets import held_quantity
    fees = [(D("0.000004"), "BTC"), (D("0.0004"), "BNB"), (D("0.000006"), "BTC"), (D("0.36"), "USDT")]
    assert held_quantity("BUY", D("0.01"), fees, "BTCUSDT", "BTC") == D("0.00999")
    assert held_quantity("SELL", D("0.01"), fees, "BTCUSDT", "BTC") == D("0.01")  # the short side
    # without the exchange's base asset on record: position's reading of the symbol
    assert held_quantity("BUY", D("0.01"), fees, "BTCUSDT", None) == D("0.00999")


def test_bracket_children_are_rounded_down_to_the_step_of_what_is_held() -> None:
    from robson_execution.domain.brackets import ChildLeg, Limits, child_quantities
    legs = [ChildLeg("tp1", D("0.5"), D("66000")), ChildLeg("sl", None, D("55000"))]
    limits = Limits(step_size=D("0.00001"), min_qty=D("0.00001"), min_notional=D("5"))
    assert child_quantities(legs, D("0.011988"), limits, entry_done=True) == {
        "tp1": D("0.00599"), "sl": D("0.00599")}


def test_a_done_entry_holding_less_than_one_step_asks_for_its_stop_so_the_refusal_is_explicit() -> None:
    """Never a silent drop: the lone stop is asked for what is held and the exchange rules
    reject it (QUANTITY_BELOW_MIN); while the entry still fills it waits for more."""
    from robson_execution.domain.brackets import ChildLeg, Limits, child_quantities
    legs = [ChildLeg("tp1", D("1"), D("66000")), ChildLeg("sl", None, D("55000"))]
    limits = Limits(step_size=D("0.001"), min_qty=D("0.001"), min_notional=D("5"))
    assert child_quantities(legs, D("0.000999"), limits, entry_done=False) == {}
    assert child_quantities(legs, D("0.000999"), limits, entry_done=True) == {"sl": D("0.000999")}
    assert child_quantities(legs, D("0"), limits, entry_done=True) == {}


def test_take_profit_halves_of_an_off_step_fill_leave_no_dust_to_a_lone_stop() -> None:
    """0.00999 BTC held under two take-profits of half each: 0.004995 each, cut to 0.00499,
    left 0.00001 (0.50 USDT) to the lone stop: below the minimum notional, refused once the
    entry was done, and that part of the position rested under no stop. The last take-profit
    takes it, as paper does; the stops of the two OCOs cover all that is held."""
    from robson_execution.domain.brackets import ChildLeg, Limits, child_quantities
    legs = [ChildLeg("tp1", D("0.5"), D("51000")), ChildLeg("tp2", D("0.5"), D("52000")),
            ChildLeg("sl", None, D("49000"))]
    limits = Limits(step_size=D("0.00001"), min_qty=D("0.00001"), min_notional=D("5"))
    got = child_quantities(legs, D("0.00999"), limits, entry_done=True)
    assert got == {"tp1": D("0.00499"), "tp2": D("0.005")}
    assert sum(got.values(), D(0)) == D("0.00999")
