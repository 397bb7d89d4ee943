"""Rule 1: size so that (entry − stop) × qty ≤ risk share of capital, then cap by notional and
free balance. A larger requested quantity is reduced, and the check says so."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from robson_contracts import CheckResult, DecisionKind

from robson_entry_gate.domain.rules.base import GateContext, failed, passed


class SizingRule:
    name = "risk_per_trade"

    def check(self, ctx: GateContext) -> CheckResult:
        """Also caps the risk by what is left of the month's loss limit (``monthly_budget``),
        so the month's bound holds even if every open stop fills."""
        d, f, cfg = ctx.decision, ctx.figures, ctx.policy.account.sizing
        if not f.capital_known:
            return failed(self.name, "NO_CAPITAL_DATA", "no balance snapshot and no default capital")
        mark = ctx.market.mark if ctx.market else None
        entry = d.entry_price or mark
        if d.entry_price is not None and mark is not None:
            # position enters at market: a price already past the decision's is where it
            # fills, so the risk and the notional are sized at the worse of the two
            long = d.decision is DecisionKind.LONG
            entry = max(d.entry_price, mark) if long else min(d.entry_price, mark)
        if entry is None:
            return failed(self.name, "NO_ENTRY_PRICE", "no entry price in the decision and no mark")
        if d.stop_loss is None:
            return failed(self.name, "STOP_LOSS_REQUIRED", "an entry needs a stop loss to be sized")
        wrong_side = d.stop_loss >= entry if d.decision is DecisionKind.LONG else d.stop_loss <= entry
        if wrong_side:
            return failed(self.name, "INVALID_STOP",
                          f"stop {d.stop_loss} is on the wrong side of entry {entry} for "
                          f"{d.decision.value}")
        share = ctx.policy.risk_per_trade
        if d.risk_fraction is not None:
            share = min(share, d.risk_fraction)
        capital = f.equity
        limits = {
            "risk_per_trade": capital * share / abs(entry - d.stop_loss),
            "max_notional": capital * cfg.max_position_notional / entry,
            "free_balance": f.free_quote / entry,
        }
        if ctx.policy.account.monthly_loss.enabled and f.month_headroom > 0:
            limits["monthly_budget"] = f.month_headroom / abs(entry - d.stop_loss)
        binding = min(limits, key=lambda k: limits[k])
        cap = _floor(limits[binding], cfg.quantity_step)
        qty = cap if d.quantity is None else min(d.quantity, cap)
        qty = _floor(qty, cfg.quantity_step)
        if qty <= 0:
            return failed(self.name, "SIZE_TOO_SMALL",
                          f"no quantity fits ({binding} allows {limits[binding]})", binding=binding)
        ctx.approved_quantity = qty
        risk = qty * abs(entry - d.stop_loss)
        details = {"entry_price": entry, "risk": risk, "binding_limit": binding,
                   "capital": capital, "max_quantity": cap}
        if d.quantity is not None and qty < d.quantity:
            return passed(self.name, f"reduced size approved: {qty} instead of {d.quantity} "
                          f"(limited by {binding})", reduced="true", requested=d.quantity, **details)
        return passed(self.name, f"approved {qty}", **details)


def _floor(value: Decimal, step: Decimal) -> Decimal:
    if value <= 0:
        return Decimal(0)
    floored = ((value / step).to_integral_value(rounding=ROUND_DOWN) * step).normalize()
    return floored.quantize(Decimal(1)) if floored.as_tuple().exponent > 0 else floored
