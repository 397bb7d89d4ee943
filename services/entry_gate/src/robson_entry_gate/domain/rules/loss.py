"""Loss limits: monthly, daily pause, drawdown kill switch, dynamic concurrency."""

from __future__ import annotations

from robson_contracts import CheckResult

from robson_entry_gate.domain.rules.base import GateContext, KillRequest, failed, passed, pct


class MonthlyLossRule:
    """Rule 2: realized this month + open losses against month-start capital; and the
    worst case (every open stop filled) must leave room for a new entry."""

    name = "monthly_loss"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg, f = ctx.policy.account.monthly_loss, ctx.figures
        if not cfg.enabled:
            return passed(self.name, "disabled")
        loss = -f.month_pnl_pct
        if loss >= cfg.limit:
            return failed(self.name, "MONTHLY_LOSS_LIMIT",
                          f"monthly loss {pct(loss)} reached the limit {pct(cfg.limit)}",
                          loss=loss, limit=cfg.limit)
        if f.month_headroom <= 0:
            return failed(self.name, "MONTHLY_LOSS_LIMIT",
                          f"realized {f.realized_month} this month with {f.open_risk} at risk "
                          f"at the stops leaves nothing of the {pct(cfg.limit)} limit",
                          loss=loss, limit=cfg.limit, open_risk=f.open_risk)
        return passed(self.name, loss=loss, limit=cfg.limit, headroom=f.month_headroom)


class DailyLossRule:
    """Rule 4: no new entries once the day's loss (equity against the day's start) reaches the
    limit; ``domain/enforce`` locks (and by default flattens) until the reset."""

    name = "daily_loss"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg, f = ctx.policy.account.daily_loss, ctx.figures
        if not cfg.enabled:
            return passed(self.name, "disabled")
        loss = -f.day_pnl_pct
        if loss < cfg.limit:
            return passed(self.name, loss=loss, limit=cfg.limit)
        until = f.calendar.next_reset(ctx.now)  # the lockout itself is set by domain/enforce
        return failed(self.name, "DAILY_LOSS_LIMIT",
                      f"daily loss {pct(loss)} reached {pct(cfg.limit)}; paused until "
                      f"{until.isoformat()}", loss=loss, limit=cfg.limit)


class DrawdownRule:
    """Rule 5: equity 20% below its peak engages the kill switch."""

    name = "drawdown"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg, f = ctx.policy.account.drawdown, ctx.figures
        if not cfg.enabled:
            return passed(self.name, "disabled")
        if f.drawdown >= cfg.limit:
            ctx.kill = KillRequest(f.drawdown, f.equity, f.peak_equity, cfg.limit)
            return failed(self.name, "MAX_DRAWDOWN",
                          f"equity {f.equity} is {pct(f.drawdown)} below its peak "
                          f"{f.peak_equity} (limit {pct(cfg.limit)}): kill switch",
                          drawdown=f.drawdown, limit=cfg.limit)
        return passed(self.name, drawdown=f.drawdown)


class ConcurrencyRule:
    """Rule 3: the risk budget decides how many positions may be open at once."""

    name = "concurrency"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg, f = ctx.policy.account.concurrency, ctx.figures
        if not cfg.enabled:
            return passed(self.name, "disabled")
        if f.open_count >= f.max_concurrency:
            return failed(self.name, "RISK_BUDGET_EXHAUSTED",
                          f"{f.open_count} open/pending positions; the risk budget allows "
                          f"{f.max_concurrency} at monthly P&L {pct(f.month_pnl_pct)}",
                          open=f.open_count, max_concurrency=f.max_concurrency)
        return passed(self.name, open=f.open_count, max_concurrency=f.max_concurrency)
