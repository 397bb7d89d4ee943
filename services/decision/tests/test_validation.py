"""The validation layer: an answer that does not make sense becomes NO_TRADE/VALIDATION_FAILED."""

from __future__ import annotations

from decimal import Decimal

import pytest
from robson_contracts import DecisionEngine, DecisionKind, ModificationKind
from robson_decision.domain.decide import EngineInfo, Stamp, finalize
from robson_decision.domain.proposal import (
    AnswerFormatError,
    Proposal,
    ProposedModification,
    ProposedTakeProfit,
    parse_answer,
)
from robson_decision.domain.settings import TraderSettings
from robson_decision.domain.validation import validate

from .factories import entry_ctx, position, review_ctx, signal

S = TraderSettings()
D = Decimal


def long(
    stop: str = "98",
    tps: tuple[tuple[str, str], ...] = (("102", "0.5"), ("104", "0.5")),
    entry: str | None = "100",
    confidence: str = "0.8",
    kind: str = "LONG",
) -> Proposal:
    return Proposal(
        decision=DecisionKind(kind),
        confidence=D(confidence),
        entry_price=D(entry) if entry else None,
        stop_loss=D(stop),
        take_profits=tuple(ProposedTakeProfit(price=D(p), fraction=D(f)) for p, f in tps),
    )


def test_sane_long_is_valid() -> None:
    assert validate(long(), entry_ctx(), S) == []


@pytest.mark.parametrize(
    ("proposal", "fragment"),
    [
        (long(stop="101"), "must be below the entry"),
        (long(stop="50"), "stop distance 50.00% is outside"),
        (long(stop="99.95"), "stop distance 0.05% is outside"),
        (long(stop="-1"), "must be positive"),
        (long(tps=(("99", "0.5"),)), "take-profit 0 at 99 must be above"),
        (long(tps=(("102", "0.7"), ("104", "0.6"))), "fractions sum to 1.3 > 1"),
        (long(tps=(("102", "0"),)), "fraction 0 must be in (0, 1]"),
        (long(confidence="1.2"), "confidence 1.2 is outside 0..1"),
        (long(entry="150"), "from the market"),
        (long(kind="SHORT", stop="98", tps=(("96", "1"),)), "must be above the entry"),
    ],
)
def test_nonsensical_long_is_rejected_with_a_clear_violation(
    proposal: Proposal, fragment: str
) -> None:
    problems = validate(proposal, entry_ctx(), S)
    assert any(fragment in p for p in problems), problems


def test_entry_without_stop_is_rejected() -> None:
    p = Proposal(decision=DecisionKind.LONG, confidence=D("0.9"), entry_price=D(100))
    assert "an entry needs a stop_loss" in validate(p, entry_ctx(), S)


def test_close_without_open_position_is_rejected() -> None:
    p = Proposal(decision=DecisionKind.CLOSE, confidence=D("0.9"))
    assert any("needs an open position" in v for v in validate(p, entry_ctx(), S))


def test_modification_without_open_position_is_rejected() -> None:
    p = Proposal(
        decision=DecisionKind.WATCH,
        confidence=D(1),
        modifications=(ProposedModification(kind=ModificationKind.MOVE_SL, new_value=D(99)),),
    )
    assert any("needs an open position" in v for v in validate(p, entry_ctx(), S))


def test_partial_tp_needs_fraction_below_one() -> None:
    ctx = review_ctx("103", position())
    ok = Proposal(decision=DecisionKind.PARTIAL_TP, confidence=D(1), close_fraction=D("0.5"))
    bad = Proposal(decision=DecisionKind.PARTIAL_TP, confidence=D(1), close_fraction=D("1.5"))
    assert validate(ok, ctx, S) == []
    assert any("close_fraction" in v for v in validate(bad, ctx, S))


def test_stop_moved_away_from_current_stop_is_rejected_as_more_risk() -> None:
    ctx = review_ctx("103", position("LONG", "100", "99", "98"))
    p = Proposal(
        decision=DecisionKind.WATCH,
        confidence=D(1),
        modifications=(ProposedModification(kind=ModificationKind.MOVE_SL, new_value=D("97")),),
    )
    assert any("never increase risk" in v for v in validate(p, ctx, S))


def test_stop_moved_above_the_price_of_a_long_is_rejected() -> None:
    ctx = review_ctx("103", position())
    p = Proposal(
        decision=DecisionKind.WATCH,
        confidence=D(1),
        modifications=(ProposedModification(kind=ModificationKind.MOVE_SL, new_value=D("104")),),
    )
    assert any("must be below the price" in v for v in validate(p, ctx, S))


def test_llm_long_with_its_stop_above_the_market_is_rejected_though_below_its_stated_entry() -> None:
    # Market 100, entry stated at 103 (within max_stop_pct), stop 101: position sends the entry
    # as a MARKET order (it fills near 100), so a sell stop at 101 would trigger at once.
    p = Proposal(decision=DecisionKind.LONG, confidence=Decimal("0.8"), entry_price=Decimal(103),
                 stop_loss=Decimal(101),
                 take_profits=(ProposedTakeProfit(price=Decimal(106), fraction=Decimal(1)),))
    ctx = entry_ctx()
    assert ctx.price == Decimal(100)
    assert any("101" in v and "market" in v for v in validate(p, ctx, TraderSettings()))


def test_llm_short_with_its_take_profit_above_the_market_is_rejected() -> None:
    # Market 100, SHORT stated at 103, stop 105, TP 101: a buy take-profit above the price the
    # short is sold at fills at once.
    p = Proposal(decision=DecisionKind.SHORT, confidence=Decimal("0.8"), entry_price=Decimal(103),
                 stop_loss=Decimal(105),
                 take_profits=(ProposedTakeProfit(price=Decimal(101), fraction=Decimal(1)),))
    problems = validate(p, entry_ctx(), TraderSettings())
    assert any("101" in v and "market" in v for v in problems), problems


def test_entry_while_position_open_is_rejected() -> None:
    assert any("while position" in v for v in validate(long(), entry_ctx(pos=position()), S))


def test_finalize_turns_invalid_answer_into_no_trade_validation_failed() -> None:
    sig = signal()
    ctx = entry_ctx(sig)
    info = EngineInfo(DecisionEngine.LLM, "m", "entry-v1", raw_answer='{"x": 1}')
    outcome = finalize(ctx, S, long(stop="50"), Stamp.for_signal(sig), info)
    d = outcome.decision
    assert d.decision is DecisionKind.NO_TRADE
    assert outcome.reason_code == "VALIDATION_FAILED"
    assert d.reasoning.startswith("VALIDATION_FAILED: stop distance 50.00%")
    assert d.stop_loss is None and d.take_profits == ()
    assert outcome.info.raw_answer == '{"x": 1}'


def test_finalize_below_min_confidence_is_no_trade_low_confidence() -> None:
    sig = signal()
    outcome = finalize(
        entry_ctx(sig),
        TraderSettings(min_confidence=D("0.7")),
        long(confidence="0.55"),
        Stamp.for_signal(sig),
        EngineInfo(DecisionEngine.RULES),
    )
    assert (outcome.decision.decision, outcome.reason_code) == (
        DecisionKind.NO_TRADE,
        "LOW_CONFIDENCE",
    )


def test_finalize_valid_long_carries_ids_derived_from_the_signal() -> None:
    sig = signal()
    a = finalize(entry_ctx(sig), S, long(), Stamp.for_signal(sig), EngineInfo(DecisionEngine.RULES))
    b = finalize(entry_ctx(sig), S, long(), Stamp.for_signal(sig), EngineInfo(DecisionEngine.RULES))
    assert a.decision.model_dump_json() == b.decision.model_dump_json()
    assert a.decision.causation_id == sig.message_id
    assert a.decision.occurred_at == sig.occurred_at
    assert a.decision.stop_loss == D(98) and a.decision.signal_id == sig.signal_id


def test_finalize_management_decision_carries_position_id_and_previous_stop() -> None:
    pos = position("LONG", "100", "98", "98")
    ctx = review_ctx("103", pos)
    p = Proposal(
        decision=DecisionKind.WATCH,
        confidence=D(1),
        modifications=(ProposedModification(kind=ModificationKind.MOVE_SL, new_value=D("100")),),
    )
    sig = signal()
    d = finalize(ctx, S, p, Stamp.for_signal(sig), EngineInfo(DecisionEngine.RULES)).decision
    assert d.position_id == "pos-1"
    assert (d.modifications[0].previous_value, d.modifications[0].new_value) == (D(98), D(100))


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{",
        '{"decision": "MAYBE", "confidence": 0.5}',
        '{"decision": "LONG"}',
        '{"decision": "LONG", "confidence": 0.5, "x": 1}',
    ],
)
def test_parse_answer_rejects_malformed_or_off_schema_answers(raw: str) -> None:
    with pytest.raises(AnswerFormatError):
        parse_answer(raw)


def test_parse_answer_reads_numbers_as_exact_decimals() -> None:
    p = parse_answer(
        '```json\n{"decision": "LONG", "confidence": 0.7, "entry_price": 64000.1,'
        ' "stop_loss": 63000.3, "take_profits": [{"price": 65000.7, "fraction": 1}]}```'
    )
    assert p.entry_price == D("64000.1") and p.take_profits[0].price == D("65000.7")


def test_spot_trader_with_short_signal_while_flat_is_no_trade_not_a_short() -> None:
    sig = signal()
    short = long(stop="102", tps=(("98", "0.5"), ("96", "0.5")), kind="SHORT")
    spot = TraderSettings(allow_short=False)
    outcome = finalize(entry_ctx(sig), spot, short, Stamp.for_signal(sig),
                       EngineInfo(DecisionEngine.RULES))
    assert (outcome.decision.decision, outcome.reason_code) == (
        DecisionKind.NO_TRADE,
        "SHORT_NOT_ALLOWED",
    )
    margin = finalize(entry_ctx(sig), S, short, Stamp.for_signal(sig),
                      EngineInfo(DecisionEngine.RULES))
    assert margin.decision.decision is DecisionKind.SHORT



def test_candles_kept_below_the_longest_time_exit_is_refused() -> None:
    from pydantic import ValidationError
    from robson_decision.settings import DecisionSettings

    with pytest.raises(ValidationError, match="candles_kept"):
        DecisionSettings(candles_kept=499)
    assert DecisionSettings(candles_kept=500).candles_kept == 500


@pytest.mark.parametrize("together", [0, -1, 33, 10**9])
def test_ask_ahead_concurrency_outside_1_to_32_is_refused_naming_the_setting(together: int) -> None:
    from pydantic import ValidationError
    from robson_decision.settings import DecisionSettings

    with pytest.raises(ValidationError, match="llm_ask_ahead_concurrency"):
        DecisionSettings(llm_ask_ahead_concurrency=together)
    assert DecisionSettings(llm_ask_ahead_concurrency=32).llm_ask_ahead_concurrency == 32


@pytest.mark.parametrize(
    "raw",
    [
        # a take-profit far beyond any price (the contracts refuse |x| >= 1e18)
        '{"decision": "LONG", "confidence": 0.8, "entry_price": 100, "stop_loss": 98,'
        ' "take_profits": [{"price": 1e30, "fraction": 1}]}',
        # a huge exponent: the drift arithmetic overflows the decimal context
        '{"decision": "LONG", "confidence": 0.8, "entry_price": 1e999999999, "stop_loss": 98,'
        ' "take_profits": []}',
    ],
)
def test_llm_entry_with_out_of_range_numbers_is_validation_failed_not_a_crash(raw: str) -> None:
    sig = signal()
    info = EngineInfo(DecisionEngine.LLM, "m", "entry-v1", raw_answer=raw)
    outcome = finalize(entry_ctx(sig), S, parse_answer(raw), Stamp.for_signal(sig), info)
    assert outcome.decision.decision is DecisionKind.NO_TRADE
    assert outcome.reason_code == "VALIDATION_FAILED"


@pytest.mark.parametrize(
    "modification",
    [
        '{"kind": "ADD_TP", "new_value": 1e30, "fraction": 0.5}',
        '{"kind": "TRAIL_SL", "trail_percent": 1e-47}',
    ],
)
def test_llm_modification_with_out_of_range_numbers_is_validation_failed_not_a_crash(
    modification: str,
) -> None:
    raw = f'{{"decision": "WATCH", "confidence": 0.8, "modifications": [{modification}]}}'
    ctx = review_ctx("103", position("LONG", "100", "98", "98"))
    info = EngineInfo(DecisionEngine.LLM, "m", "manage-v1", raw_answer=raw)
    outcome = finalize(ctx, S, parse_answer(raw), Stamp.for_signal(signal()), info)
    assert outcome.decision.decision is DecisionKind.NO_TRADE
    assert outcome.reason_code == "VALIDATION_FAILED"


def test_llm_confidence_with_too_many_places_is_validation_failed_not_a_crash() -> None:
    raw = ('{"decision": "LONG", "confidence": 1e-47, "entry_price": 100, "stop_loss": 98,'
           ' "take_profits": []}')
    sig = signal()
    info = EngineInfo(DecisionEngine.LLM, "m", "entry-v1", raw_answer=raw)
    outcome = finalize(entry_ctx(sig), S, parse_answer(raw), Stamp.for_signal(sig), info)
    assert (outcome.decision.decision, outcome.reason_code) == (
        DecisionKind.NO_TRADE, "VALIDATION_FAILED")
    assert outcome.decision.confidence == 0
