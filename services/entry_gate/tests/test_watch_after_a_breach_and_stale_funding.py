"""The price watch after a breach in the same batch and across a reset inside a batch; a funding
rate stale by a fraction of a second."""

from __future__ import annotations

from datetime import timedelta

from robson_contracts import CloseAllPositions, RiskLimitBreached, TradeTick

from .factories import T0, opened, snapshot
from .test_day_and_month_edges import _gate, _send


async def _send_batch(deps, messages) -> list:
    """Several market messages in one transaction, as the consumer runs a fetched batch."""
    from robson_backtest.uow import MemorySession, MemoryUnitOfWork
    from robson_entry_gate.handlers.market import handle_market, wants_market

    uow = MemoryUnitOfWork(MemorySession(), None)
    for m in messages:
        if wants_market(m, deps):
            await handle_market(m, uow, deps)
    return await uow.commit()


async def test_kill_switch_still_watched_after_a_daily_breach_in_the_same_batch() -> None:
    # Defaults: daily loss 5% (flatten), drawdown 20% (kill switch). One batch of ticks:
    # 95 breaches the daily limit, 79 is a 21% drawdown, 101 recovers. A test after every
    # tick engages the kill switch at 79; the batch watch stopped at the daily breach.
    deps = await _gate({"monthly_loss": {"enabled": False}, "concurrency": {"enabled": False}})
    await _send(deps, TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await _send(deps, snapshot("10000", T0))
    await _send(deps, opened("p1", qty="100", entry="100", stop="50", at=T0))
    ticks = [TradeTick(occurred_at=T0 + timedelta(seconds=i), symbol="BTCUSDT", price=p)
             for i, p in enumerate(["99", "95", "90", "79", "90", "101"], start=1)]
    out = await _send_batch(deps, ticks)
    rules = [m.rule for m in out if isinstance(m, RiskLimitBreached)]
    assert "daily_loss" in rules
    assert "drawdown" in rules, f"kill switch missed at 79: {rules}"
    [state] = [s for s, _ in deps.accounts.committed({"acc1"})]
    assert state.kill_switch is not None
    assert any(isinstance(m, CloseAllPositions) and m.reason.value == "KILL_SWITCH" for m in out)


async def test_daily_limit_watched_in_a_batch_that_straddles_the_reset() -> None:
    # Yesterday realized +600 (equity 10,600). One batch: 23:59:59 at 100, then 00:00:01 at
    # 94.5 (today's loss 550 = 5.19% of the 10,600 start), then 100 again. A test after every
    # tick flattens at 94.5; the watch's daily floor was computed for yesterday (the batch's
    # first move), 600 lower, so the dip is missed.
    from datetime import UTC, datetime

    from .factories import closed

    deps = await _gate({"monthly_loss": {"enabled": False}, "concurrency": {"enabled": False},
                        "drawdown": {"enabled": False}})
    await _send(deps, TradeTick(occurred_at=T0, symbol="BTCUSDT", price="100"))
    await _send(deps, snapshot("10000", T0))
    await _send(deps, opened("p0", qty="1", entry="100", stop="50", at=T0))
    await _send(deps, closed("p0", "600", at=T0 + timedelta(hours=1)))
    await _send(deps, snapshot("10600", T0 + timedelta(hours=1)))
    await _send(deps, opened("p1", qty="100", entry="100", stop="50",
                             at=T0 + timedelta(hours=2)))
    midnight = datetime(2024, 5, 2, tzinfo=UTC)
    ticks = [TradeTick(occurred_at=midnight + timedelta(seconds=s), symbol="BTCUSDT", price=p)
             for s, p in ((-1, "100"), (1, "94.5"), (2, "100"))]
    out = await _send_batch(deps, ticks)
    assert [m.rule for m in out if isinstance(m, RiskLimitBreached)] == ["daily_loss"]


def test_funding_rate_older_than_its_max_age_by_a_fraction_of_a_second_is_stale() -> None:
    # max_funding_age_seconds 3600: a value 3600.5 s old is too old; the age was truncated
    # to whole seconds before the comparison, so it passed as 3600 s.
    from robson_entry_gate.domain.gate import evaluate

    from .factories import account, decision, fresh_market, policy

    now = T0 + timedelta(seconds=3600, milliseconds=500)
    market = fresh_market(T0, funding="0.0001")
    market["BTCUSDT"] = market["BTCUSDT"].model_copy(update={"price_at": now})
    p = policy()
    verdict = evaluate(decision(at=now), account("10000", p.account, market), market, p, now)
    [check] = [c for c in verdict.checks if c.rule == "funding_rate"]
    assert not check.passed and check.reason_code == "FUNDING_RATE_STALE", check
