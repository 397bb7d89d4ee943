"""What a venue says about a position's orders, normalised from either venue's HTTP API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from robson_contracts import FINAL_ORDER_STATUSES, Liquidity, OrderRole, OrderSpec


@dataclass(frozen=True)
class VenueFill:
    fill_id: str
    order_id: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    filled_at: datetime
    fee_quote: Decimal | None = None


@dataclass(frozen=True)
class VenueOrder:
    spec: OrderSpec
    status: str
    """NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED or REJECTED (PENDING counts as NEW)."""
    filled_qty: Decimal
    list_id: str | None = None
    role: OrderRole | None = None
    replaced: bool = False
    """Canceled as part of a cancel/replace (execution's ``superseded``)."""
    updated_at: datetime | None = None

    @property
    def order_id(self) -> str:
        return self.spec.order_id

    @property
    def live(self) -> bool:
        return self.status not in FINAL_ORDER_STATUSES


@dataclass(frozen=True)
class VenueView:
    orders: list[VenueOrder] = field(default_factory=list)
    fills: list[VenueFill] = field(default_factory=list)

    def order(self, order_id: str) -> VenueOrder | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def fills_of(self, order_id: str) -> list[VenueFill]:
        return [f for f in self.fills if f.order_id == order_id]
