"""Orders and accounts of the simulated exchange (plain, serialisable dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from robson_contracts import OrderRole, OrderSpec, OrderType, Side, TimeInForce

ZERO = Decimal(0)


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


LIVE = {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED}
TRIGGERED_TYPES = {OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT,
                   OrderType.TAKE_PROFIT_LIMIT}
MARKET_LIKE = {OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT}


@dataclass(frozen=True)
class TakeProfitLeg:
    order_id: str
    stop_order_id: str
    price: Decimal
    fraction: Decimal


@dataclass
class BracketPlan:
    """The children an entry releases as it fills."""

    stop_price: Decimal
    stop_limit_price: Decimal | None
    stop_order_id: str
    take_profits: list[TakeProfitLeg]
    reference: Decimal | None = None
    """Set: the prices were measured from it; the children are placed at the same distances
    from the entry's average fill (levels measured from the fill)."""
    refused: list[str] = field(default_factory=list)
    """Children refused (``Rejected`` sent): never placed later, also after a reload."""
    placed: list[str] | None = field(default_factory=list)
    """Children placed (``Accepted`` sent): resized, never placed again once they end. None: a
    plan stored before this was recorded (its children are known by their ids having been used)."""


@dataclass
class Order:
    account_id: str
    tenant_id: str
    order_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: TimeInForce
    seq: int
    created_at: datetime
    role: OrderRole | None = None
    list_id: str | None = None
    position_id: str | None = None
    parent_order_id: str | None = None
    oco_peer: str | None = None
    hold_key: str = ""
    ref_price: Decimal = ZERO
    """The price funds are held at (limit, stop with buffer, or last price with buffer)."""
    short: bool = False
    marketable: bool = False
    """A GTC limit marketable against the last price when accepted: like an IOC it takes the
    next price it meets (as a taker, at that price); what it cannot fill then rests as a limit."""
    status: OrderStatus = OrderStatus.NEW
    triggered: bool = False
    filled_qty: Decimal = ZERO
    filled_notional: Decimal = ZERO
    fees: Decimal = ZERO
    fill_count: int = 0
    updated_at: datetime | None = None
    bracket: BracketPlan | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.account_id, self.order_id)

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_qty

    @property
    def live(self) -> bool:
        return self.status in LIVE

    @property
    def average_price(self) -> Decimal:
        return self.filled_notional / self.filled_qty if self.filled_qty else ZERO

    @property
    def effective_type(self) -> OrderType:
        """A triggered stop-limit / take-profit-limit rests as a plain limit."""
        if self.triggered and self.type in (OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
            return OrderType.LIMIT
        return self.type

    def spec(self) -> OrderSpec:
        return OrderSpec(order_id=self.order_id, symbol=self.symbol, side=self.side, type=self.type,
                         quantity=self.quantity, price=self.price, stop_price=self.stop_price,
                         time_in_force=self.time_in_force, role=self.role)

    def to_json(self) -> dict[str, Any]:
        return _jsonable(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Order:
        d = dict(data)
        for k in ("quantity", "price", "stop_price", "ref_price", "filled_qty", "filled_notional", "fees"):
            d[k] = Decimal(d[k]) if d[k] is not None else None
        d["side"], d["type"] = Side(d["side"]), OrderType(d["type"])
        d["time_in_force"], d["status"] = TimeInForce(d["time_in_force"]), OrderStatus(d["status"])
        d["role"] = OrderRole(d["role"]) if d["role"] else None
        d["created_at"] = datetime.fromisoformat(d["created_at"])
        d["updated_at"] = datetime.fromisoformat(d["updated_at"]) if d["updated_at"] else None
        if d["bracket"]:
            b = d["bracket"]
            d["bracket"] = BracketPlan(
                Decimal(b["stop_price"]),
                Decimal(b["stop_limit_price"]) if b["stop_limit_price"] else None,
                b["stop_order_id"],
                [TakeProfitLeg(t["order_id"], t["stop_order_id"], Decimal(t["price"]), Decimal(t["fraction"]))
                 for t in b["take_profits"]],
                Decimal(b["reference"]) if b.get("reference") else None,
                list(b.get("refused", [])),
                list(b["placed"]) if b.get("placed") is not None else None,
            )
        return cls(**d)


@dataclass
class Account:
    account_id: str
    tenant_id: str = "default"
    allow_short: bool = False
    starting: dict[str, Decimal] = field(default_factory=lambda: {"USDT": Decimal(10000)})
    free: dict[str, Decimal] = field(default_factory=dict)
    holds: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Reserved funds by hold key (an order id, or a list id shared by OCO legs) and asset."""
    borrowed: dict[str, Decimal] = field(default_factory=dict)

    def locked(self, asset: str) -> Decimal:
        return sum((h.get(asset, ZERO) for h in self.holds.values()), ZERO)

    def assets(self) -> list[str]:
        names = set(self.free) | set(self.borrowed) | {a for h in self.holds.values() for a in h}
        return sorted(names)

    def to_json(self) -> dict[str, Any]:
        return _jsonable(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        dec = {k: Decimal(v) for k, v in data["free"].items()}
        return cls(
            account_id=data["account_id"], tenant_id=data["tenant_id"], allow_short=data["allow_short"],
            starting={k: Decimal(v) for k, v in data["starting"].items()}, free=dec,
            holds={k: {a: Decimal(v) for a, v in h.items()} for k, h in data["holds"].items()},
            borrowed={k: Decimal(v) for k, v in data["borrowed"].items()},
        )


_PLAIN = frozenset({str, int, bool, float, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _jsonable(value: Any) -> Any:
    """JSON-ready copy of a dataclass tree (what asdict + conversion gave, without deepcopy:
    accounts and orders are written on every change). The exact types met most come first;
    anything else (enums, subclasses) takes the general path below."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is Decimal:
        return format(value, "f")
    names = _FIELD_NAMES.get(kind)
    if names is not None:
        return {name: _jsonable(getattr(value, name)) for name in names}
    if kind is dict:
        return {k: _jsonable(v) for k, v in value.items()}
    if kind is list:
        return [_jsonable(v) for v in value]
    return _jsonable_slow(value)


def _jsonable_slow(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value))
        return {name: _jsonable(getattr(value, name)) for name in names}
    return value
