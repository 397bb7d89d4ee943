"""Fixed-percent stops and take-profits: what a simple rule set in a backtest config says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError
from robson_contracts import DecisionKind
from robson_decision.domain import rules
from robson_decision.domain.settings import StopMode, TraderSettings
from robson_decision.domain.validation import validate

from .factories import bars, entry_ctx, signal

PERCENT = TraderSettings(stop_mode=StopMode.PERCENT, stop_pct=Decimal("1.5"),
                         tp_pcts=(Decimal("3"),), tp_fractions=(Decimal(1),))


def test_percent_mode_long_puts_stop_and_take_profit_at_fixed_percents_of_the_entry() -> None:
    ctx = entry_ctx(signal("LONG", "0.8", price="200"), bars(30))
    p = rules.decide_entry(ctx, PERCENT).proposal
    assert p.decision is DecisionKind.LONG
    assert p.stop_loss == Decimal("197.00")  # 200 − 1.5%
    assert [(tp.price, tp.fraction) for tp in p.take_profits] == [(Decimal("206.00"), 1)]
    assert validate(p, ctx, PERCENT) == []


def test_percent_mode_short_mirrors_the_levels() -> None:
    p = rules.decide_entry(entry_ctx(signal("SHORT", "0.8", price="200"), bars(30)),
                           PERCENT).proposal
    assert p.stop_loss == Decimal("203.00")
    assert p.take_profits[0].price == Decimal("194.00")


def test_percent_take_profits_combine_with_an_atr_stop() -> None:
    s = TraderSettings(tp_pcts=(Decimal(1), Decimal(2)))
    p = rules.decide_entry(entry_ctx(signal("LONG", "0.8", price="100"), bars(30)), s).proposal
    assert [tp.price for tp in p.take_profits] == [Decimal("101.00"), Decimal("102.00")]


@pytest.mark.parametrize(("fields", "named"), [
    ({"stop_mode": "PERCENT"}, "stop_pct"),
    ({"stop_pct": "2"}, "stop_pct"),
    ({"tp_pcts": ["1", "2", "3"]}, "tp_pcts"),
])
def test_invalid_percent_combinations_are_refused_naming_the_field(fields: dict, named: str) -> None:
    with pytest.raises(ValidationError) as info:
        TraderSettings.model_validate(fields)
    assert named in str(info.value)


def test_a_rules_trader_with_a_percent_stop_reads_no_bar_and_the_others_their_window() -> None:
    from robson_decision.handlers.context import bars_needed, bars_read

    percent = TraderSettings(stop_mode=StopMode.PERCENT, stop_pct=Decimal("2"))
    assert bars_read(percent) == 0 and bars_needed(percent) == 15
    assert bars_read(TraderSettings(stop_mode=StopMode.ATR)) == 15
    assert bars_read(TraderSettings(stop_mode=StopMode.SWING, swing_lookback=30)) == 30
    llm = TraderSettings(engine="llm", model="m", stop_mode=StopMode.PERCENT, stop_pct=Decimal("2"))
    assert bars_read(llm) == bars_needed(llm) == 60  # the prompt shows the candles
