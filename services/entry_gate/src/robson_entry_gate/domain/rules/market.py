"""Rule 8: funding rate (value and its own age) and market-data freshness. Each check
denies or only warns, as the policy says (``MarketConfig``)."""

from __future__ import annotations

from robson_contracts import CheckResult

from robson_entry_gate.domain.rules.base import GateContext, judged, passed, pct


class FundingRateRule:
    name = "funding_rate"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg, snap, symbol = ctx.policy.account.market, ctx.market, ctx.decision.symbol
        limit = cfg.max_abs_funding_rate
        if limit is None:
            return passed(self.name, "disabled")
        if snap is None or snap.funding_rate is None or snap.context_at is None:
            return judged(cfg.missing_funding.value, self.name, "FUNDING_RATE_MISSING",
                          f"nothing to judge: no funding rate received for {symbol} (name its "
                          "perpetual in the config's market context)", judged="false")
        seconds = (ctx.now - snap.context_at).total_seconds()
        age = int(seconds)
        max_age = cfg.max_funding_age_seconds
        if max_age is not None and seconds > max_age:  # not the truncated age: 3600.5 > 3600
            return judged(cfg.stale_funding.value, self.name, "FUNDING_RATE_STALE",
                          f"the funding rate for {symbol} is {age}s old (max {max_age}s): "
                          "too old to judge", funding_rate=snap.funding_rate, age_seconds=age,
                          max_age_seconds=max_age)
        if abs(snap.funding_rate) > limit:
            return judged(cfg.funding.value, self.name, "FUNDING_RATE_EXTREME",
                          f"|funding rate| {pct(abs(snap.funding_rate))} per 8h exceeds "
                          f"{pct(limit)}", funding_rate=snap.funding_rate, limit=limit,
                          age_seconds=age)
        return passed(self.name, f"funding {pct(snap.funding_rate)} ({age}s old) within "
                      f"{pct(limit)}", funding_rate=snap.funding_rate, age_seconds=age)


class DataFreshnessRule:
    name = "market_data_age"

    def check(self, ctx: GateContext) -> CheckResult:
        cfg = ctx.policy.account.market
        limit = cfg.max_data_age_seconds
        if limit is None:
            return passed(self.name, "disabled")
        snap = ctx.market
        at = snap.data_at if snap else None
        if at is None:
            return judged(cfg.data_age.value, self.name, "MARKET_DATA_MISSING",
                          f"no market data seen for {ctx.decision.symbol}")
        age = (ctx.now - at).total_seconds()
        if age > limit:
            return judged(cfg.data_age.value, self.name, "MARKET_DATA_STALE",
                          f"latest {ctx.decision.symbol} data is {int(age)}s old (max {limit}s)",
                          age_seconds=int(age), limit=limit)
        return passed(self.name, age_seconds=int(age))
