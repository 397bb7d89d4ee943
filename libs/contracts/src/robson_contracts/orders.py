"""Order commands and events, spoken alike by `paper` and `execution`."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import model_validator

from robson_contracts.base import AccountMessage, Model
from robson_contracts.types import (
    Fraction,
    Identifier,
    NonNegativeDec,
    OrderRef,
    PositiveDec,
    Side,
    Symbol,
    TradingMode,
    UtcDatetime,
)


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    """Market order triggered when the price reaches stop_price in the profit direction."""
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"


_NEEDS_PRICE = {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT, OrderType.LIMIT_MAKER}
_NEEDS_STOP = {OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT}


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderRole(StrEnum):
    ENTRY = "ENTRY"
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    EXIT = "EXIT"


FINAL_ORDER_STATUSES: frozenset[str] = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED"})
"""Venue order statuses (Binance's names, which paper uses too) after which an order can never
fill again."""


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class OrderSpec(Model):
    order_id: OrderRef
    symbol: Symbol
    side: Side
    type: OrderType
    quantity: PositiveDec
    price: PositiveDec | None = None
    stop_price: PositiveDec | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    role: OrderRole | None = None

    @model_validator(mode="after")
    def _prices_match_type(self) -> OrderSpec:
        if self.type in _NEEDS_PRICE and self.price is None:
            raise ValueError(f"{self.type} orders need a price")
        if self.type in _NEEDS_STOP and self.stop_price is None:
            raise ValueError(f"{self.type} orders need a stop_price")
        if self.type == OrderType.MARKET and self.price is not None:
            raise ValueError("MARKET orders take no price")
        return self


class OrderCommand(AccountMessage):
    """Commands are routed by ``venue``: PAPER → paper, LIVE → execution."""

    venue: TradingMode
    position_id: Identifier | None = None


class SubmitOrder(OrderCommand):
    message_type: Literal["SubmitOrder"] = "SubmitOrder"
    order: OrderSpec


class SubmitOcoOrder(OrderCommand):
    """Stop-loss + take-profit on the same quantity; one fill cancels the other."""

    message_type: Literal["SubmitOcoOrder"] = "SubmitOcoOrder"
    list_id: OrderRef
    symbol: Symbol
    side: Side
    quantity: PositiveDec
    stop_order_id: OrderRef
    stop_price: PositiveDec
    stop_limit_price: PositiveDec | None = None
    take_profit_order_id: OrderRef
    take_profit_price: PositiveDec


class BracketTakeProfit(Model):
    """One take-profit child and the stop paired with it in an OCO, on ``fraction`` of the fill."""

    order_id: OrderRef
    stop_order_id: OrderRef
    price: PositiveDec
    fraction: Fraction


class SubmitBracketOrder(OrderCommand):
    """Entry + protective children, released when (and as far as) the entry fills.

    Each take-profit gets an OCO with its own stop on its fraction of the filled quantity;
    any remaining fraction is protected by a stop alone (``stop_order_id``).
    """

    message_type: Literal["SubmitBracketOrder"] = "SubmitBracketOrder"
    list_id: OrderRef
    entry: OrderSpec
    stop_price: PositiveDec
    stop_limit_price: PositiveDec | None = None
    stop_order_id: OrderRef
    take_profits: tuple[BracketTakeProfit, ...] = ()
    levels_reference: PositiveDec | None = None
    """When set, the stop and take-profit prices were measured from this price and the venue
    moves them to the entry's average fill (``rebased``) as it releases the children: levels
    measured from the fill. None: the prices stand as given."""

    @model_validator(mode="after")
    def _fractions_fit(self) -> SubmitBracketOrder:
        if sum((tp.fraction for tp in self.take_profits), Decimal(0)) > 1:
            raise ValueError("take-profit fractions must sum to at most 1")
        return self


def rebased(level: Decimal, reference: Decimal, fill: Decimal) -> Decimal:
    """A level measured from ``reference``, measured from ``fill`` instead (same percent
    distance): how venues and ``position`` agree on a bracket's levels from the fill."""
    return level * fill / reference


class CancelOrder(OrderCommand):
    """Cancel one order, or a whole list (OCO/bracket) when ``list_id`` is given."""

    message_type: Literal["CancelOrder"] = "CancelOrder"
    symbol: Symbol
    order_id: OrderRef | None = None
    list_id: OrderRef | None = None

    @model_validator(mode="after")
    def _one_target(self) -> CancelOrder:
        if (self.order_id is None) == (self.list_id is None):
            raise ValueError("give exactly one of order_id or list_id")
        return self


class ReplaceOrder(OrderCommand):
    """Amend a resting order (cancel/replace); links to OCO/bracket siblings are kept."""

    message_type: Literal["ReplaceOrder"] = "ReplaceOrder"
    symbol: Symbol
    order_id: OrderRef
    new_order_id: OrderRef
    quantity: PositiveDec | None = None
    price: PositiveDec | None = None
    stop_price: PositiveDec | None = None


class Fill(Model):
    fill_id: Identifier
    price: PositiveDec
    quantity: PositiveDec
    fee: NonNegativeDec
    fee_asset: str
    liquidity: Liquidity
    filled_at: UtcDatetime
    fee_quote: NonNegativeDec | None = None
    """The fee in the symbol's quote asset, when the venue valued it: a fee paid in a third asset
    (BNB, for an account that pays its fees with it) at the venue's price of that asset. None:
    ``fee_asset`` is the quote or the base asset (valued at the fill's price), or no price was
    known."""


class OrderEvent(AccountMessage):
    venue: TradingMode
    order_id: OrderRef
    symbol: Symbol
    list_id: OrderRef | None = None
    position_id: Identifier | None = None
    role: OrderRole | None = None


class OrderAccepted(OrderEvent):
    message_type: Literal["OrderAccepted"] = "OrderAccepted"
    order: OrderSpec
    parent_order_id: OrderRef | None = None


class OrderRejected(OrderEvent):
    message_type: Literal["OrderRejected"] = "OrderRejected"
    reason_code: str
    message: str


class _FillEvent(OrderEvent):
    side: Side
    fill: Fill
    cumulative_quantity: PositiveDec
    average_price: PositiveDec
    remaining_quantity: NonNegativeDec


class OrderPartiallyFilled(_FillEvent):
    message_type: Literal["OrderPartiallyFilled"] = "OrderPartiallyFilled"


class OrderFilled(_FillEvent):
    message_type: Literal["OrderFilled"] = "OrderFilled"


class OrderCanceled(OrderEvent):
    message_type: Literal["OrderCanceled"] = "OrderCanceled"
    reason: str
    remaining_quantity: NonNegativeDec


class OrderExpired(OrderEvent):
    message_type: Literal["OrderExpired"] = "OrderExpired"
    reason: str
    remaining_quantity: NonNegativeDec


class OrderReplaced(OrderEvent):
    """``order_id`` is the old order; ``order`` is the amended replacement."""

    message_type: Literal["OrderReplaced"] = "OrderReplaced"
    order: OrderSpec
