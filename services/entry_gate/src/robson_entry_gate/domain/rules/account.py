"""Account availability: kill switch, lockouts, trader status, direction, confidence,
sessions."""

from __future__ import annotations

from robson_contracts import CheckResult, DecisionKind

from robson_entry_gate.domain.rules.base import GateContext, failed, passed


class KillSwitchRule:
    name = "kill_switch"

    def check(self, ctx: GateContext) -> CheckResult:
        kill = ctx.figures.state.kill_switch
        if kill is not None:
            return failed(self.name, "KILL_SWITCH_ENGAGED",
                          f"account locked by the kill switch since {kill.engaged_at.isoformat()} "
                          "until an admin unlocks it", drawdown=kill.drawdown)
        return passed(self.name)


class LockoutRule:
    name = "lockouts"

    def check(self, ctx: GateContext) -> CheckResult:
        d = ctx.decision
        hits = [lk for lk in ctx.figures.active_lockouts() if lk.applies(d.trader_id, d.symbol)]
        if hits:
            first = hits[0]
            until = first.until.isoformat() if first.until else "admin unlock"
            return failed(self.name, "LOCKED_OUT",
                          f"{len(hits)} active lockout(s); first: {first.reason_code} until {until}",
                          reasons=",".join(lk.reason_code for lk in hits))
        return passed(self.name)


class TraderStatusRule:
    name = "trader_status"

    def check(self, ctx: GateContext) -> CheckResult:
        tid = ctx.decision.trader_id
        if not ctx.policy.trader.enabled:
            return failed(self.name, "TRADER_DISABLED", f"trader {tid} is disabled by policy")
        reason = ctx.figures.state.paused_traders.get(tid)
        if reason is not None:
            return failed(self.name, "TRADER_PAUSED", f"trader {tid} is paused: {reason or '-'}")
        return passed(self.name)


class DirectionRule:
    """SHORT only where allowed; one open direction per trader and symbol unless hedging."""

    name = "direction"

    def check(self, ctx: GateContext) -> CheckResult:
        d = ctx.decision
        if d.decision is DecisionKind.SHORT and not ctx.policy.account.allow_short:
            return failed(self.name, "SHORT_NOT_ALLOWED",
                          f"account {d.account_id} does not allow short entries")
        if not ctx.policy.account.positions.allow_hedging:
            side = d.decision.value
            held = set(ctx.figures.state.sides().get((d.trader_id, d.symbol), ()))
            held.update(p.side for p in ctx.figures.pending_entries
                        if p.trader_id == d.trader_id and p.symbol == d.symbol)
            if any(h.value != side for h in held):
                return failed(self.name, "OPPOSITE_POSITION_OPEN",
                              f"trader {d.trader_id} holds the other side of {d.symbol}; "
                              "hedging is off (positions.allow_hedging)")
        return passed(self.name)


class ConfidenceRule:
    name = "min_confidence"

    def check(self, ctx: GateContext) -> CheckResult:
        need, have = ctx.policy.min_confidence, ctx.decision.confidence
        if have < need:
            return failed(self.name, "LOW_CONFIDENCE", f"confidence {have} is below {need}",
                          confidence=have, min_confidence=need)
        return passed(self.name, confidence=have)


class SessionRule:
    """Rule 9: blocked symbols, holidays, weekdays and time windows in a timezone."""

    name = "sessions"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg = ctx.policy.account.sessions
        symbol = ctx.decision.symbol
        if symbol in cfg.blocked_symbols or symbol in ctx.policy.trader.blocked_symbols:
            return failed(self.name, "SYMBOL_BLOCKED", f"{symbol} is blocked by policy")
        from zoneinfo import ZoneInfo

        local = ctx.now.astimezone(ZoneInfo(cfg.timezone))
        if local.date() in cfg.holidays:
            return failed(self.name, "HOLIDAY", f"{local.date()} is a holiday in {cfg.timezone}")
        if local.isoweekday() not in cfg.weekdays:
            return failed(self.name, "OUTSIDE_SESSION",
                          f"{local.strftime('%A')} is not a trading day in {cfg.timezone}")
        if cfg.windows and not any(_inside(local.time(), w.start, w.end) for w in cfg.windows):
            return failed(self.name, "OUTSIDE_SESSION",
                          f"{local.time().isoformat('minutes')} {cfg.timezone} is outside "
                          "every trading window")
        return passed(self.name)


def _inside(t, start, end) -> bool:
    return start <= t < end if start < end else (t >= start or t < end)  # windows may wrap
