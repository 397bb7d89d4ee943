"""Counts and timing: max positions, stop-out cooldown, trade frequency."""

from __future__ import annotations

from datetime import timedelta

from robson_contracts import CheckResult, derive_id

from robson_entry_gate.domain.policy import CooldownScope
from robson_entry_gate.domain.rules.base import GateContext, failed, passed
from robson_entry_gate.domain.state import Lockout

ONE_MINUTE, ONE_HOUR = timedelta(minutes=1), timedelta(hours=1)
POSITION_COUNT_CODES = frozenset({"MAX_POSITIONS_TRADER", "MAX_POSITIONS_ACCOUNT"})


class TraderPositionsRule:
    name = "max_positions_trader"

    def check(self, ctx: GateContext) -> CheckResult:
        limit = ctx.policy.max_per_trader
        have = ctx.figures.open_by_trader.get(ctx.decision.trader_id, 0)
        if limit is None:
            return passed(self.name, "no static cap: the risk budget binds", open=have)
        if have >= limit:
            return failed(self.name, "MAX_POSITIONS_TRADER",
                          f"trader {ctx.decision.trader_id} has {have} open/pending positions "
                          f"(max {limit})", open=have, limit=limit)
        return passed(self.name, open=have, limit=limit)


class AccountPositionsRule:
    name = "max_positions_account"

    def check(self, ctx: GateContext) -> CheckResult:
        limit = ctx.policy.account.positions.max_per_account
        have = ctx.figures.open_count
        if limit is None:
            return passed(self.name, "no static cap: the risk budget binds", open=have)
        if have >= limit:
            return failed(self.name, "MAX_POSITIONS_ACCOUNT",
                          f"account has {have} open/pending positions (max {limit})",
                          open=have, limit=limit)
        return passed(self.name, open=have, limit=limit)


class StopoutCooldownRule:
    """Rule 6: no new entry for N minutes after a losing exit (globally or per symbol)."""

    name = "stopout_cooldown"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg, state = ctx.policy.account.stopout_cooldown, ctx.figures.state
        if not cfg.enabled or cfg.minutes == 0:
            return passed(self.name, "disabled")
        if cfg.scope is CooldownScope.SYMBOL:
            last = state.last_stopout_by_symbol.get(ctx.decision.symbol)
        else:
            last = state.last_stopout_at
        if last is not None and ctx.now < last + timedelta(minutes=cfg.minutes):
            until = last + timedelta(minutes=cfg.minutes)
            return failed(self.name, "STOPOUT_COOLDOWN",
                          f"losing exit at {last.isoformat()}; cooling down until {until.isoformat()}",
                          scope=cfg.scope.value, until=until.isoformat())
        return passed(self.name)


class FrequencyRule:
    """Rule 10: max entries per minute/hour/day; a breach also starts a cooldown lockout."""

    name = "trade_frequency"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg, f = ctx.policy.account.frequency, ctx.figures
        now = ctx.now
        stamps = f.state.entries
        # ``now - at < 1 minute`` is ``at > now - 1 minute``: one subtraction per window, not a
        # timedelta and a subtraction per entry (every decision reads two days of entries)
        minute_after, hour_after = now - ONE_MINUTE, now - ONE_HOUR
        minute = sum(1 for e in stamps if e.at > minute_after)
        hour = sum(1 for e in stamps if e.at > hour_after)
        day = sum(1 for e in stamps if f.calendar.day_key(e.at) == f.day_key) if stamps else 0
        for label, count, limit in (("minute", minute, cfg.per_minute),
                                    ("hour", hour, cfg.per_hour), ("day", day, cfg.per_day)):
            if limit is not None and count >= limit:
                if cfg.cooldown_minutes:
                    ctx.lockouts_to_set.append(Lockout(
                        lockout_id=str(derive_id("lockout", f.state.account_id, "FREQ", now)),
                        reason_code="TRADE_FREQUENCY", set_at=now,
                        message=f"{count} entries in the last {label}: cooling down",
                        until=now + timedelta(minutes=cfg.cooldown_minutes),
                    ))
                return failed(self.name, "TRADE_FREQUENCY",
                              f"{count} entries this {label} (max {limit})",
                              window=label, count=count, limit=limit)
        return passed(self.name, minute=minute, hour=hour, day=day)
