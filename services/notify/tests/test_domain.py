"""The pure core: retry decisions, the rate limit, routes and templates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from robson_notify.domain.config import NotificationsConfig
from robson_notify.domain.model import DeliveryStatus, Severity
from robson_notify.domain.notices import notice_for
from robson_notify.domain.policy import RetryPolicy, SendResult, TokenBucket, after_attempt

from .events import T0, breach, closed, dead_letter, denial, opened

POLICY = RetryPolicy()
H = timedelta(hours=1)


def test_retry_after_longer_than_the_backoff_sets_the_next_attempt() -> None:
    nxt = after_attempt(POLICY, Severity.INFO, 1, T0, T0, SendResult(False, 429, retry_after=30))
    assert nxt.status is DeliveryStatus.PENDING and nxt.at == T0 + timedelta(seconds=30)


def test_routine_gives_up_after_three_tries_and_never_resends_an_unknown_outcome() -> None:
    failed = SendResult(False, 500, error="HTTP 500")
    assert after_attempt(POLICY, Severity.INFO, 2, T0, T0, failed).status is DeliveryStatus.PENDING
    assert after_attempt(POLICY, Severity.INFO, 3, T0, T0, failed).status is DeliveryStatus.FAILED
    maybe = SendResult(False, error="TIMEOUT", sent=True)
    assert after_attempt(POLICY, Severity.INFO, 1, T0, T0, maybe).status is DeliveryStatus.FAILED


def test_critical_is_retried_past_three_tries_until_24_hours_old() -> None:
    maybe = SendResult(False, error="TIMEOUT", sent=True)
    assert after_attempt(POLICY, Severity.CRITICAL, 40, T0, T0 + 23 * H, maybe).status \
        is DeliveryStatus.PENDING
    late = after_attempt(POLICY, Severity.CRITICAL, 41, T0, T0 + 24 * H, maybe)
    assert late.status is DeliveryStatus.FAILED and "EXPIRED" in late.error


@settings(max_examples=100)
@given(st.integers(1, 600), st.integers(1, 50), st.lists(st.floats(0, 5), min_size=1, max_size=60))
def test_token_bucket_never_allows_more_than_burst_plus_rate(rate: int, burst: int,
                                                             gaps: list[float]) -> None:
    bucket, now, taken = TokenBucket(rate, burst), T0, 0
    for gap in gaps:
        now += timedelta(seconds=gap)
        while bucket.take(now):
            taken += 1
        assert bucket.ready_at(now) > now
    elapsed = (now - T0).total_seconds()
    assert taken <= burst + elapsed * rate / 60 + 1e-6


def test_routes_pick_channels_by_kind_severity_and_account() -> None:
    cfg = NotificationsConfig.model_validate({
        "channels": {"ops": {"url": "json://h/x"}, "me": {"url": "json://h/y"}},
        "routes": [{"channel": "ops", "events": ["risk.*", "dlq.*"], "min_severity": "critical"},
                   {"channel": "me", "events": ["position.closed"], "accounts": ["acc2"]}]})
    assert cfg.channels_for(notice_for(breach())) == ["ops"]
    assert cfg.channels_for(notice_for(closed(account="acc1"))) == []
    assert cfg.channels_for(notice_for(closed(account="acc2"))) == ["me"]
    assert cfg.channels_for(notice_for(dead_letter())) == ["ops"]


def test_channel_needs_exactly_one_of_url_and_url_env() -> None:
    with pytest.raises(ValidationError, match="exactly one of url or url_env"):
        NotificationsConfig.model_validate({"channels": {"x": {"url": "json://a/b", "url_env": "X"}}})


def test_templates_render_figures_without_exponents() -> None:
    n = notice_for(opened())
    assert n is not None and n.kind == "position.opened"
    assert "LONG 0.05 BTCUSDT at 60000" in n.text and "stop 59000" in n.text
    c = notice_for(closed(pnl="-12.345"))
    assert c is not None and "-12.35 USDT" in c.title and "1.89 R" in c.text
    assert notice_for(denial(1)).kind == "gate.denied"  # type: ignore[union-attr]
