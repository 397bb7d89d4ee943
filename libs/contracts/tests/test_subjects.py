"""``subjects.account_of`` reads back the account every subject builder puts in, and finds none
where a subject names no account."""

from __future__ import annotations

from robson_contracts import subjects as s


def test_account_of_reads_back_the_account_of_every_builder_that_takes_one() -> None:
    built = [
        s.balance("acc-7"), s.account_event("acc-7"), s.signal("acc-7", "BTCUSDT"),
        s.decision("acc-7", "BTCUSDT"), s.decision_pending("acc-7", "BTCUSDT"),
        s.gate_decision("acc-7", "BTCUSDT"), s.risk_event("acc-7"), s.position_command("acc-7"),
        s.position_event("acc-7", "BTCUSDT"), s.trader_event("acc-7"),
        s.order_command("LIVE", "acc-7", "BTCUSDT"), s.order_command("PAPER", "acc-7", "BTCUSDT"),
        s.order_event("acc-7", "BTCUSDT"),
    ]
    assert [s.account_of(subject) for subject in built] == ["acc-7"] * len(built)


def test_account_of_a_subject_naming_no_account_is_none() -> None:
    for subject in (s.candle("BTCUSDT", "5m"), s.tick("BTCUSDT"), s.market_context("BTCUSDT"),
                    s.venue_rules("PAPER", "BTCUSDT"), s.dead_letter("paper", "paper_market"),
                    "robson.order", "unrelated"):
        assert s.account_of(subject) is None, subject
