"""The position's stored state: plain data that round-trips through JSON (the ``state`` column)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from robson_contracts import ExitReason, OrderRole, PositionSide, PositionStatus, TradingMode
from robson_contracts.trusted import PlainAssignment

ZERO = Decimal(0)


class OrderKind(StrEnum):
    ENTRY = "ENTRY"
    STOP = "STOP"
    TP = "TP"
    EXIT = "EXIT"


class StopSettings(BaseModel):
    """How the stop was set before a move (restored when the venue refuses the move)."""

    manual: bool = False
    trail_percent: Decimal | None = None
    trailed_at: datetime | None = None


class TrackedOrder(PlainAssignment):
    model_config = ConfigDict(extra="ignore")

    order_id: str
    kind: OrderKind
    quantity: Decimal
    price: Decimal | None = None
    tp_index: int | None = None
    list_id: str | None = None
    order_type: str | None = None
    live: bool = True
    accepted: bool = False
    replaces: str | None = None
    """The order this one replaces (a stop or take-profit moved). When the venue refuses the
    replacement, paper keeps that order working (it is marked live again), while execution
    (Binance) has already cancelled it (and its OCO's other leg): there the refusal leaves what
    is held without a stop, and protection is placed again (``replace_refusals.py``)."""
    settings_before: StopSettings | None = None
    """A stop move's replacement: the position's stop settings before the move."""


class TakeProfit(PlainAssignment):
    price: Decimal
    fraction: Decimal
    filled: bool = False
    canceled: bool = False

    @property
    def live(self) -> bool:
        return not (self.filled or self.canceled)


class Close(BaseModel):
    """One exit fill: the unit of realized P&L."""

    fill_id: str
    quantity: Decimal
    price: Decimal
    fees: Decimal
    entry_fees: Decimal
    realized_pnl: Decimal
    reason: ExitReason
    at: datetime


class PositionState(PlainAssignment):
    model_config = ConfigDict(validate_assignment=False)

    position_id: str
    account_id: str
    trader_id: str
    symbol: str
    side: PositionSide
    venue: TradingMode
    status: PositionStatus = PositionStatus.PENDING_ENTRY
    version: int = 0
    requested_quantity: Decimal
    entry_quantity: Decimal = ZERO
    entry_cost: Decimal = ZERO
    entry_fees: Decimal = ZERO
    entry_fee_quantity: Decimal = ZERO
    """Base asset a LONG entry's fees took from what it bought (Binance charges a BUY's
    commission in the asset received): never held, so never sold. Valued in ``entry_fees``."""
    exit_quantity: Decimal = ZERO
    exit_value: Decimal = ZERO
    exit_fees: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    closes: list[Close] = []
    stop_loss: Decimal | None = None
    initial_stop: Decimal | None = None
    levels_reference: Decimal | None = None
    """Set: stop and take-profits were measured from this price and move to the entry's fill."""
    manual_stop: bool = False
    trail_percent: Decimal | None = None
    last_trailed_at: datetime | None = None
    """When a trailing move last changed the stop (its exit is then a TRAILING_STOP)."""
    take_profits: list[TakeProfit] = []
    orders: dict[str, TrackedOrder] = {}
    fill_ids: list[str] = []
    order_generation: int = 0
    stop_refused_for: Decimal | None = None
    """What was held when the venue refused a stop for all of it for its quantity (then it was
    closed at market; a close of that same quantity refused for its quantity writes it off)."""
    stop_through_for: Decimal | None = None
    """What was held when the venue refused a stop for it as already through the market (then
    it was closed at market); refused so again for the same holding before any stop was
    accepted, it is left to the watchdog (no stop, refusal, close, refusal loop)."""
    written_off: Decimal = ZERO
    """What the venue would neither protect nor sell (below its minimum): closed in the books
    at the last price, no fee (``Position.write_off``); it stays in the account as dust."""
    best_price: Decimal | None = None
    worst_price: Decimal | None = None
    last_price: Decimal | None = None
    peak_pnl: Decimal = ZERO
    max_drawdown: Decimal = ZERO
    created_at: datetime
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    last_modified_at: datetime | None = None
    last_candle_at: datetime | None = None
    exit_reason: ExitReason | None = None
    pending_exit_reason: ExitReason | None = None
    decision_id: str | None = None
    gate_decision_id: str | None = None
    entry_reasoning: str = ""
    exit_note: str = ""
    list_id: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.entry_quantity - self.exit_quantity - self.entry_fee_quantity

    @property
    def entry_price(self) -> Decimal | None:
        return self.entry_cost / self.entry_quantity if self.entry_quantity else None

    @property
    def stop_exit_reason(self) -> ExitReason:
        """What a stop-out is: a trailing stop once the stop was trailed, else a stop-loss."""
        trailed = self.last_trailed_at is not None or self.trail_percent is not None
        return ExitReason.TRAILING_STOP if trailed else ExitReason.STOP_LOSS

    @property
    def exit_price(self) -> Decimal | None:
        return self.exit_value / self.exit_quantity if self.exit_quantity else None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def holds(self) -> bool:
        return self.status in _HOLDING


_HOLDING = frozenset({PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED, PositionStatus.CLOSING})
ACTIVE_STATUSES = _HOLDING | {PositionStatus.PENDING_ENTRY}
"""What ``is_active`` tests (the enums; a status's text is found here too: a ``StrEnum``)."""


ROLE_OF_KIND = {
    OrderKind.ENTRY: OrderRole.ENTRY,
    OrderKind.STOP: OrderRole.STOP_LOSS,
    OrderKind.TP: OrderRole.TAKE_PROFIT,
    OrderKind.EXIT: OrderRole.EXIT,
}
