"""What the exchange reports; the handlers turn these into contract messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from robson_contracts import Liquidity, OrderRole, OrderSpec, Side

from robson_paper.domain.model import Order


@dataclass(frozen=True)
class OrderRef:
    account_id: str
    tenant_id: str
    order_id: str
    symbol: str
    list_id: str | None = None
    position_id: str | None = None
    role: OrderRole | None = None
    parent_order_id: str | None = None

    @classmethod
    def of(cls, o: Order) -> OrderRef:
        return cls(o.account_id, o.tenant_id, o.order_id, o.symbol, o.list_id, o.position_id, o.role,
                   o.parent_order_id)


@dataclass(frozen=True)
class Accepted:
    ref: OrderRef
    spec: OrderSpec


@dataclass(frozen=True)
class Rejected:
    ref: OrderRef
    code: str
    message: str


@dataclass(frozen=True)
class Filled:
    ref: OrderRef
    side: Side
    fill_no: int
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    at: datetime
    cumulative: Decimal
    average: Decimal
    remaining: Decimal

    @property
    def complete(self) -> bool:
        return self.remaining == 0


@dataclass(frozen=True)
class Canceled:
    ref: OrderRef
    reason: str
    remaining: Decimal


@dataclass(frozen=True)
class Expired:
    ref: OrderRef
    reason: str
    remaining: Decimal


@dataclass(frozen=True)
class Replaced:
    ref: OrderRef
    spec: OrderSpec


@dataclass(frozen=True)
class BalanceChanged:
    account_id: str
    tenant_id: str


Event = Accepted | Rejected | Filled | Canceled | Expired | Replaced | BalanceChanged
