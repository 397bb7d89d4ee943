"""Robson message contracts. Import models from here."""

from robson_contracts.accounts import (
    AccountModeChanged,
    DeadLetter,
    ReconciliationCompleted,
    ReconciliationItem,
)
from robson_contracts.alerts import (
    DecisionAwaitingApproval,
    RiskLockoutEnded,
    VenueStatus,
    VenueStatusChanged,
)
from robson_contracts.base import AccountMessage, Message, Model, derive_id
from robson_contracts.decisions import (
    DecisionEngine,
    DecisionKind,
    EntryType,
    Modification,
    ModificationKind,
    TakeProfitLevel,
    TradeDecision,
    TriggeredBy,
)
from robson_contracts.gate import (
    CheckResult,
    GateDecision,
    GateOutcome,
    RiskAction,
    RiskLimitBreached,
)
from robson_contracts.market import (
    AssetBalance,
    BalanceSnapshot,
    Candle,
    FeedSource,
    MarketContext,
    TradeTick,
)
from robson_contracts.orders import (
    FINAL_ORDER_STATUSES,
    BracketTakeProfit,
    CancelOrder,
    Fill,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderCommand,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
    OrderRole,
    OrderSpec,
    OrderType,
    ReplaceOrder,
    SubmitBracketOrder,
    SubmitOcoOrder,
    SubmitOrder,
    TimeInForce,
)
from robson_contracts.positions import (
    CloseAllPositions,
    ClosePosition,
    ExitReason,
    ModifyPosition,
    PositionClosed,
    PositionEntryFailed,
    PositionError,
    PositionEvent,
    PositionModificationRejected,
    PositionModified,
    PositionOpened,
    PositionPartiallyClosed,
    PositionStatus,
    TraderStatusChanged,
    Violation,
)
from robson_contracts.registry import MESSAGE_TYPES, DecodeError, decode, encode
from robson_contracts.signals import SignalDetected, SignalDirection, SignalOrigin
from robson_contracts.subjects import subject_for
from robson_contracts.types import (
    Dec,
    Fraction,
    NonNegativeDec,
    PositionSide,
    PositiveDec,
    Side,
    Timeframe,
    TradingMode,
)
from robson_contracts.venues import SymbolRules

__all__ = [name for name in dir() if not name.startswith("_")]
