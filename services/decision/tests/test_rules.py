"""The rules engine: deterministic entries, stops, take-profits and position management."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from robson_contracts import DecisionKind, ModificationKind
from robson_decision.domain import indicators, rules
from robson_decision.domain.settings import StopMode, TraderSettings
from robson_decision.domain.validation import validate

from .factories import bars, entry_ctx, position, review_ctx, signal

DEFAULT = TraderSettings()


def test_rules_with_strong_long_signal_enter_long_with_stop_below_and_tps_at_r_multiples() -> None:
    history = bars(30)
    ctx = entry_ctx(signal("LONG", "0.8", price=str(history[-1].close)), history)
    answer = rules.decide_entry(ctx, DEFAULT)
    p = answer.proposal
    assert p.decision is DecisionKind.LONG
    assert p.confidence == Decimal("0.8")
    atr = indicators.atr(history, 14)
    assert atr is not None
    risk = p.entry_price - p.stop_loss
    assert abs(risk - Decimal("1.5") * atr) < Decimal("0.01")
    assert [tp.price for tp in p.take_profits] == [
        (p.entry_price + r * risk).quantize(Decimal("0.0001")) for r in (1, 2)
    ]
    assert sum(tp.fraction for tp in p.take_profits) == 1
    assert validate(p, ctx, DEFAULT) == []


def test_rules_with_short_signal_put_stop_above_and_tps_below() -> None:
    ctx = entry_ctx(signal("SHORT", "0.9", price="100"), bars(30))
    p = rules.decide_entry(ctx, DEFAULT).proposal
    assert p.decision is DecisionKind.SHORT
    assert p.stop_loss > p.entry_price
    assert all(tp.price < p.entry_price for tp in p.take_profits)


def test_rules_with_signal_below_strength_threshold_answer_no_trade_weak_signal() -> None:
    answer = rules.decide_entry(entry_ctx(signal("LONG", "0.59")), DEFAULT)
    assert answer.proposal.decision is DecisionKind.NO_TRADE
    assert answer.reason_code == "WEAK_SIGNAL"


def test_rules_with_neutral_signal_answer_no_trade() -> None:
    answer = rules.decide_entry(entry_ctx(signal("NEUTRAL", "0.9")), DEFAULT)
    assert answer.reason_code == "NEUTRAL_SIGNAL"


def test_rules_in_swing_mode_put_long_stop_at_the_lowest_low_of_the_lookback() -> None:
    history = bars(30)
    s = TraderSettings(stop_mode=StopMode.SWING, swing_lookback=10)
    p = rules.decide_entry(
        entry_ctx(signal("LONG", price=str(history[-1].close)), history), s
    ).proposal
    assert p.stop_loss == min(b.low for b in history[-10:])


def test_rules_without_candles_fall_back_to_percent_stop() -> None:
    p = rules.decide_entry(entry_ctx(signal("LONG", price="200")), DEFAULT).proposal
    assert p.stop_loss == Decimal("196.00")
    assert "not enough candles" in p.reasoning


def test_rules_with_open_position_and_strong_opposite_signal_close_it() -> None:
    ctx = entry_ctx(signal("SHORT", "0.85"), pos=position("LONG"))
    p = rules.decide_entry(ctx, DEFAULT).proposal
    assert p.decision is DecisionKind.CLOSE
    assert validate(p, ctx, DEFAULT) == []


def test_rules_with_open_position_and_same_direction_signal_do_not_add() -> None:
    answer = rules.decide_entry(entry_ctx(signal("LONG", "0.95"), pos=position("LONG")), DEFAULT)
    assert answer.proposal.decision is DecisionKind.NO_TRADE
    assert answer.reason_code == "POSITION_ALREADY_OPEN"


def test_review_at_one_r_moves_stop_to_breakeven() -> None:
    ctx = review_ctx("102.5", position("LONG", "100", "98", "98"))
    answer = rules.review(ctx, DEFAULT)
    assert answer is not None
    (mod,) = answer.proposal.modifications
    assert (mod.kind, mod.new_value) == (ModificationKind.MOVE_SL, Decimal("100"))
    assert validate(answer.proposal, ctx, DEFAULT) == []


def test_review_with_stop_already_at_breakeven_suggests_nothing_below_trail_level() -> None:
    assert rules.review(review_ctx("102.5", position("LONG", "100", "100", "98")), DEFAULT) is None


def test_review_at_two_r_suggests_trailing_stop_once() -> None:
    answer = rules.review(review_ctx("104.1", position("LONG", "100", "100", "98")), DEFAULT)
    assert answer is not None
    assert answer.proposal.modifications[0].kind is ModificationKind.TRAIL_SL
    trailing = position("LONG", "100", "102", "98", trailing=True)
    assert rules.review(review_ctx("104.1", trailing), DEFAULT) is None


def test_review_of_short_position_in_profit_moves_stop_down_to_entry() -> None:
    answer = rules.review(review_ctx("97", position("SHORT", "100", "102", "102")), DEFAULT)
    assert answer is not None
    assert answer.proposal.modifications[0].new_value == Decimal("100")


def test_review_past_max_holding_candles_closes_the_position() -> None:
    history = bars(12)
    pos = position("LONG", opened_at=history[2].open_time)
    answer = rules.review(review_ctx("100", pos, history), TraderSettings(max_holding_candles=10))
    assert answer is not None and answer.proposal.decision is DecisionKind.CLOSE


def test_review_in_loss_suggests_nothing() -> None:
    assert rules.review(review_ctx("99", position("LONG")), DEFAULT) is None


@settings(max_examples=100, deadline=None)
@given(
    direction=st.sampled_from(["LONG", "SHORT"]),
    strength=st.decimals(min_value=Decimal("0.6"), max_value=1, places=2),
    seed=st.integers(0, 10_000),
    mode=st.sampled_from(list(StopMode)),
)
def test_rules_entries_always_pass_validation(
    direction: str, strength: Decimal, seed: int, mode: StopMode
) -> None:
    history = bars(30, seed=seed)
    stop_pct = Decimal("2") if mode is StopMode.PERCENT else None
    s = TraderSettings(stop_mode=mode, stop_pct=stop_pct, max_stop_pct=Decimal("50"))
    ctx = entry_ctx(signal(direction, str(strength), price=str(history[-1].close)), history)
    p = rules.decide_entry(ctx, s).proposal
    assert p.decision.value == direction
    assert validate(p, ctx, s) == []


def test_rules_engine_is_deterministic() -> None:
    ctx = entry_ctx(signal("LONG", "0.77"), bars(30, seed=3))
    first = rules.decide_entry(ctx, DEFAULT).proposal.model_dump_json()
    assert all(
        rules.decide_entry(ctx, DEFAULT).proposal.model_dump_json() == first for _ in range(5)
    )


@settings(max_examples=200, deadline=None)
@given(
    side=st.sampled_from(["LONG", "SHORT"]),
    price=st.decimals(min_value=Decimal("80"), max_value=Decimal("125"), places=1),
    stop=st.sampled_from(["90", "98", "100", "102", "110"]),
    held=st.integers(0, 40),
    trailing=st.booleans(),
)
def test_settings_that_review_nothing_get_no_review_answer_at_any_price(
    side: str, price: Decimal, stop: str, held: int, trailing: bool
) -> None:
    """The handler skips the review context on ``reviews_nothing``: ``review`` must agree.
    The same inputs with a threshold set do get answers (the generator reaches them)."""
    history = bars(held + 2)
    pos = position(side, "100", stop, stop, opened_at=history[1].open_time, trailing=trailing)
    ctx = review_ctx(str(price), pos, history)
    quiet = TraderSettings(max_holding_candles=None, trail_at_r=None, breakeven_at_r=None)
    assert rules.reviews_nothing(quiet) and rules.review(ctx, quiet) is None
    assert not rules.reviews_nothing(DEFAULT)
    assert not rules.reviews_nothing(TraderSettings(max_holding_candles=30, trail_at_r=None,
                                                    breakeven_at_r=None))


def test_the_default_review_settings_do_answer_where_the_quiet_ones_do_not() -> None:
    ctx = review_ctx("104.1", position("LONG", "100", "100", "98"))
    assert rules.review(ctx, DEFAULT) is not None
    assert rules.review(ctx, TraderSettings(trail_at_r=None, breakeven_at_r=None)) is None
