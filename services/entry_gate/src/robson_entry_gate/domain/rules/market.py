"""Rule 8: funding rate and market-data freshness."""

from __future__ import annotations

from robson_contracts import CheckResult

from robson_entry_gate.domain.rules.base import GateContext, failed, passed, pct


class FundingRateRule:
    name = "funding_rate"

    def check(self, ctx: GateContext) -> CheckResult:
        limit = ctx.policy.account.market.max_abs_funding_rate
        snap = ctx.market
        if limit is None:
            return passed(self.name, "disabled")
        if snap is None or snap.funding_rate is None:
            return passed(self.name, "no funding for this symbol (spot)")
        if abs(snap.funding_rate) > limit:
            return failed(self.name, "FUNDING_RATE_EXTREME",
                          f"|funding rate| {pct(abs(snap.funding_rate))} per 8h exceeds "
                          f"{pct(limit)}", funding_rate=snap.funding_rate, limit=limit)
        return passed(self.name, funding_rate=snap.funding_rate)


class DataFreshnessRule:
    name = "market_data_age"

    def check(self, ctx: GateContext) -> CheckResult:
        limit = ctx.policy.account.market.max_data_age_seconds
        if limit is None:
            return passed(self.name, "disabled")
        snap = ctx.market
        at = snap.data_at if snap else None
        if at is None:
            return failed(self.name, "MARKET_DATA_MISSING",
                          f"no market data seen for {ctx.decision.symbol}")
        age = (ctx.now - at).total_seconds()
        if age > limit:
            return failed(self.name, "MARKET_DATA_STALE",
                          f"latest {ctx.decision.symbol} data is {int(age)}s old (max {limit}s)",
                          age_seconds=int(age), limit=limit)
        return passed(self.name, age_seconds=int(age))
