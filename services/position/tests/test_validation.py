"""The validation layer: every rule, and every violation reported at once."""

from __future__ import annotations

from robson_contracts import Modification, ModificationKind, OrderRole, Side, TriggeredBy
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import apply_modification
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position
from robson_position.domain.validation import Request, validate

from .factories import T0, D, filled, gate, minutes

POLICY = ManagementPolicy()


def long_at(price: str = "50000") -> Position:
    p = open_position(gate(), "PAPER", T0)
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "50000", "0.2",
                             Side.BUY), T0)
    p.mark(D(price))
    return p


def short_at(price: str = "100") -> Position:
    p = open_position(gate(side="SHORT", qty="1", stop="110", tps=(("90", "1"),)), "PAPER", T0)
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "100", "1",
                             Side.SELL), T0)
    p.mark(D(price))
    return p


def names(p: Position, mod: Modification, by: TriggeredBy = TriggeredBy.AI_ANALYSIS, price: str | None = None,
          override: bool = False, at=T0 + minutes(10)) -> list[str]:
    req = Request(mod, by, override, at, D(price) if price else None)
    return [v.name for v in validate(p, req, POLICY)]


def move_sl(value: str) -> Modification:
    return Modification(kind=ModificationKind.MOVE_SL, new_value=D(value))


def test_stop_moved_toward_profit_is_valid() -> None:
    assert names(long_at("50500"), move_sl("49500")) == []


def test_stop_moved_away_from_profit_increases_risk_and_is_rejected_with_values() -> None:
    p = long_at()
    [v] = validate(p, Request(move_sl("48000"), TriggeredBy.AI_ANALYSIS, False, T0, D("50000")), POLICY)
    assert v.name == "STOP_INCREASES_RISK" and v.current_value == "48000" and v.required_value == ">= 49000"


def test_short_stop_raised_increases_risk() -> None:
    assert names(short_at(), move_sl("112")) == ["STOP_INCREASES_RISK"]
    assert names(short_at("95"), move_sl("105")) == []


def test_stop_above_price_for_long_is_on_wrong_side() -> None:
    assert "STOP_WRONG_SIDE" in names(long_at("50000"), move_sl("50100"))


def test_stop_closer_than_minimum_distance_is_rejected() -> None:
    assert names(long_at("50000"), move_sl("49990")) == ["STOP_TOO_CLOSE"]


def test_stop_behind_breakeven_once_in_profit_is_rejected() -> None:
    p = long_at("51000")
    p.s.stop_loss = D("50000")  # already at breakeven
    assert names(p, move_sl("49800")) == ["STOP_INCREASES_RISK", "STOP_BEHIND_BREAKEVEN"]


def test_second_ai_modification_inside_interval_is_rate_limited_but_user_is_not() -> None:
    p = long_at("51000")
    p.s.last_modified_at = T0 + minutes(8)
    assert names(p, move_sl("49500"), at=T0 + minutes(10)) == ["RATE_LIMITED"]
    assert names(p, move_sl("49500"), by=TriggeredBy.USER_MANUAL, at=T0 + minutes(10)) == []
    assert names(p, move_sl("49500"), at=T0 + minutes(13)) == []


def test_ai_cannot_override_manual_stop_without_flag() -> None:
    p = long_at("51000")
    apply_modification(p, move_sl("49500"), TriggeredBy.USER_MANUAL, gate(), T0)
    assert p.s.manual_stop
    assert names(p, move_sl("49800"), at=T0 + minutes(10)) == ["MANUAL_STOP_PROTECTED"]
    assert names(p, move_sl("49800"), override=True, at=T0 + minutes(10)) == []


def test_every_violated_rule_is_reported_together() -> None:
    p = long_at("50000")
    p.s.manual_stop = True
    p.s.last_modified_at = T0 + minutes(9)
    assert names(p, move_sl("50020")) == ["RATE_LIMITED", "MANUAL_STOP_PROTECTED", "STOP_WRONG_SIDE",
                                          "STOP_TOO_CLOSE"]


def test_take_profit_below_current_price_would_fill_now() -> None:
    mod = Modification(kind=ModificationKind.MODIFY_TP, tp_index=0, new_value=D("50400"))
    assert names(long_at("50500"), mod) == ["TP_WOULD_FILL_NOW"]


def test_take_profit_not_covering_round_trip_fees_is_rejected() -> None:
    mod = Modification(kind=ModificationKind.MODIFY_TP, tp_index=0, new_value=D("50050"))
    assert names(long_at("50000"), mod) == ["TP_BELOW_FEES"]  # +0.1% < 0.2% fees


def test_add_take_profit_beyond_remaining_fraction_is_rejected() -> None:
    mod = Modification(kind=ModificationKind.ADD_TP, new_value=D("53000"), fraction=D("0.2"))
    assert names(long_at(), mod) == ["TP_FRACTION_UNAVAILABLE"]


def test_cancel_unknown_take_profit_index_is_rejected() -> None:
    assert names(long_at(), Modification(kind=ModificationKind.CANCEL_TP, tp_index=5)) == ["TP_INDEX_INVALID"]


def test_modification_of_pending_position_is_rejected() -> None:
    p = open_position(gate(), "PAPER", T0)
    assert "POSITION_NOT_OPEN" in names(p, move_sl("49500"), price="50000")


def test_trailing_stop_targets_percent_below_best_price() -> None:
    p = long_at("50000")
    p.mark(D("52000"))
    mod = Modification(kind=ModificationKind.TRAIL_SL, trail_percent=D("2"))
    assert names(p, mod) == []
    apply_modification(p, mod, TriggeredBy.RULE_ENGINE, gate(), T0)
    assert p.s.stop_loss == D("50960") and p.s.trail_percent == D("2")
