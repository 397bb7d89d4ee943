"""Rule plugins, in the fixed order the gate runs them."""

from robson_entry_gate.domain.rules.account import (
    ConfidenceRule,
    DirectionRule,
    KillSwitchRule,
    LockoutRule,
    SessionRule,
    TraderStatusRule,
)
from robson_entry_gate.domain.rules.base import GateContext, KillRequest, Rule
from robson_entry_gate.domain.rules.limits import (
    POSITION_COUNT_CODES,
    AccountPositionsRule,
    FrequencyRule,
    StopoutCooldownRule,
    TraderPositionsRule,
)
from robson_entry_gate.domain.rules.loss import (
    ConcurrencyRule,
    DailyLossRule,
    DrawdownRule,
    MonthlyLossRule,
)
from robson_entry_gate.domain.rules.market import DataFreshnessRule, FundingRateRule
from robson_entry_gate.domain.rules.sizing import SizingRule

RULES: tuple[Rule, ...] = (
    KillSwitchRule(),
    LockoutRule(),
    TraderStatusRule(),
    SessionRule(),
    DirectionRule(),
    ConfidenceRule(),
    FundingRateRule(),
    DataFreshnessRule(),
    DrawdownRule(),
    MonthlyLossRule(),
    DailyLossRule(),
    ConcurrencyRule(),
    TraderPositionsRule(),
    AccountPositionsRule(),
    StopoutCooldownRule(),
    FrequencyRule(),
    SizingRule(),
)

__all__ = ["POSITION_COUNT_CODES", "RULES", "GateContext", "KillRequest", "Rule"]
