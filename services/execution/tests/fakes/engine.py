"""The fake exchange's matching engine: orders, OCO lists, trades, balances. Synchronous and
in-memory; the server wraps it in HTTP/WebSocket."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .wallet import QUOTE, base_of, commission, locked


class EngineError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    tif: str
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    list_id: int = -1
    time_ms: int = 0
    triggered: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": self.list_id,
            "clientOrderId": self.client_order_id, "price": f(self.price or Decimal(0)),
            "origQty": f(self.quantity), "executedQty": f(self.executed),
            "cummulativeQuoteQty": f(self.quote), "status": self.status, "timeInForce": self.tif,
            "type": self.type, "side": self.side, "stopPrice": f(self.stop_price or Decimal(0)),
            "time": self.time_ms, "updateTime": self.time_ms, "isWorking": True,
        }


@dataclass
class Trade:
    trade_id: int
    order: Order
    price: Decimal
    qty: Decimal
    fee: Decimal
    maker: bool
    time_ms: int
    fee_asset: str = QUOTE

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.order.symbol, "id": self.trade_id, "orderId": self.order.order_id,
            "orderListId": self.order.list_id, "price": f(self.price), "qty": f(self.qty),
            "quoteQty": f(self.price * self.qty), "commission": f(self.fee),
            "commissionAsset": self.fee_asset, "time": self.time_ms, "isBuyer": self.order.side == "BUY",
            "isMaker": self.maker, "isBestMatch": True,
        }


STOP_LOSS_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT")


def f(d: Decimal) -> str:
    return format(d, "f")


@dataclass
class FakeEngine:
    prices: dict[str, Decimal] = field(default_factory=lambda: {"BTCUSDT": Decimal("60000")})
    orders: list[Order] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    lists: dict[int, dict[str, Any]] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=lambda: {"USDT": Decimal(100000), "BTC": Decimal(10)})
    partial_fill_fraction: Decimal | None = None
    """When set, the next marketable order fills only this fraction at once (then resets)."""
    commission_asset: str = "QUOTE"
    """Which asset trades pay their commission in: ``QUOTE``, ``RECEIVED`` or ``BNB`` (see
    ``wallet.COMMISSION_POLICIES``)."""
    skew_ms: int = 0
    """The exchange clock minus the real clock (fault injection: a client that does not sync
    its timestamps gets -1021)."""
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1001))
    _trade_ids: Any = field(default_factory=lambda: itertools.count(5001))
    _list_ids: Any = field(default_factory=lambda: itertools.count(1))

    # ---- queries -------------------------------------------------------------------------
    def find(self, symbol: str, order_id: int | None = None, client_id: str | None = None) -> Order:
        for o in reversed(self.orders):
            if o.symbol == symbol and (o.order_id == order_id or (client_id and o.client_order_id == client_id)):
                return o
        raise EngineError(-2013, "Order does not exist.")

    def by_client_id(self, client_id: str) -> list[Order]:
        return [o for o in self.orders if o.client_order_id == client_id]

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders if o.status in ("NEW", "PARTIALLY_FILLED")
                and (symbol is None or o.symbol == symbol)]

    # ---- commands ------------------------------------------------------------------------
    def place(self, symbol: str, side: str, type_: str, quantity: Decimal, price: Decimal | None,
              stop_price: Decimal | None, tif: str, client_id: str, list_id: int = -1) -> Order:
        if any(o.client_order_id == client_id for o in self.open_orders()):
            raise EngineError(-2010, "Duplicate order sent.")
        if type_ == "LIMIT_MAKER" and self._marketable(side, price, symbol):
            raise EngineError(-2010, "Order would immediately match and take.")
        if type_ in STOP_LOSS_TYPES and list_id < 0 and self.stop_triggered(symbol, side, stop_price):
            raise EngineError(-2010, "Stop price would trigger immediately.")
        if side == "SELL" and not (list_id >= 0 and any(o.list_id == list_id for o in self.orders)):
            self._check_free(base_of(symbol), quantity)  # an OCO's second leg shares the first's lock
        order = Order(next(self._ids), client_id, symbol, side, type_, quantity, price, stop_price,
                      tif, list_id=list_id, time_ms=self.now())
        self.orders.append(order)
        self._report(order, "NEW")
        self._match(order)
        return order

    def cancel(self, order: Order, reason: str = "CANCELED") -> Order:
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise EngineError(-2011, "Unknown order sent.")
        order.status = reason
        self._report(order, reason)
        return order

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.prices[symbol] = price
        for order in list(self.open_orders(symbol)):
            if order.status in ("NEW", "PARTIALLY_FILLED"):
                self._match(order)

    def fill(self, order: Order, qty: Decimal | None = None, price: Decimal | None = None) -> None:
        """Force a (partial) fill, as the market would."""
        self._execute(order, qty or order.quantity - order.executed,
                      price or order.price or self.prices[order.symbol], maker=order.type != "MARKET")

    def free(self, asset: str) -> Decimal:
        return self.balances.get(asset, Decimal(0)) - locked(self.orders, asset)

    def stop_triggered(self, symbol: str, side: str, stop: Decimal | None) -> bool:
        """A STOP_LOSS(_LIMIT) at ``stop`` would trigger at the last price (SELL: at or below it)."""
        last = self.prices[symbol]
        return stop is not None and (last <= stop if side == "SELL" else last >= stop)

    def check_oco_prices(self, symbol: str, side: str, limit: Decimal | None, stop: Decimal | None) -> None:
        """Binance's OCO price restriction: SELL limit > last > stop; BUY limit < last < stop."""
        last = self.prices[symbol]
        if limit is None or stop is None:
            return
        ok = limit > last > stop if side == "SELL" else limit < last < stop
        if not ok:
            raise EngineError(-2010, "The relationship of the prices for the orders is not correct.")

    def _check_free(self, asset: str, qty: Decimal) -> None:
        if qty > self.free(asset):
            raise EngineError(-2010, "Account has insufficient balance for requested action.")

    # ---- matching ------------------------------------------------------------------------
    def _marketable(self, side: str, price: Decimal | None, symbol: str) -> bool:
        last = self.prices[symbol]
        return price is not None and (last <= price if side == "BUY" else last >= price)

    def _match(self, order: Order) -> None:
        last = self.prices[order.symbol]
        if order.type in ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT") and not order.triggered:
            stop = order.stop_price or Decimal(0)
            down = order.type.startswith("STOP") == (order.side == "SELL")
            if not (last <= stop if down else last >= stop):
                return
            order.triggered = True
        if order.type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
            self._execute(order, self._portion(order), last, maker=False)
        elif self._marketable(order.side, order.price, order.symbol):
            self._execute(order, self._portion(order), order.price or last, maker=order.type == "LIMIT_MAKER")

    def _portion(self, order: Order) -> Decimal:
        remaining = order.quantity - order.executed
        if self.partial_fill_fraction is not None:
            part = (order.quantity * self.partial_fill_fraction).quantize(Decimal("0.00001"))
            self.partial_fill_fraction = None
            return min(part, remaining)
        return remaining

    def _execute(self, order: Order, qty: Decimal, price: Decimal, maker: bool) -> None:
        if qty <= 0:
            return
        fee, fee_asset = commission(self.commission_asset, order.side, order.symbol, qty, price,
                                    self.balances, self.prices)
        trade = Trade(next(self._trade_ids), order, price, qty, fee, maker, self.now(), fee_asset)
        self.trades.append(trade)
        order.executed += qty
        order.quote += qty * price
        order.status = "FILLED" if order.executed >= order.quantity else "PARTIALLY_FILLED"
        base = base_of(order.symbol)
        sign = 1 if order.side == "BUY" else -1
        self.balances[base] = self.balances.get(base, Decimal(0)) + sign * qty
        self.balances[QUOTE] = self.balances.get(QUOTE, Decimal(0)) - sign * qty * price
        self.balances[fee_asset] = self.balances.get(fee_asset, Decimal(0)) - fee
        self._report(order, "TRADE", trade)
        if order.list_id >= 0:
            for sibling in self.orders:
                if sibling.list_id == order.list_id and sibling is not order and sibling.status == "NEW":
                    self.cancel(sibling, "EXPIRED")
            self.lists[order.list_id]["listOrderStatus"] = "ALL_DONE"

    def _report(self, order: Order, exec_type: str, trade: Trade | None = None) -> None:
        event = {
            "e": "executionReport", "E": self.now(), "s": order.symbol, "c": order.client_order_id,
            "S": order.side, "o": order.type, "f": order.tif, "q": f(order.quantity),
            "p": f(order.price or Decimal(0)), "P": f(order.stop_price or Decimal(0)),
            "x": exec_type, "X": order.status, "i": order.order_id, "g": order.list_id,
            "l": f(trade.qty if trade else Decimal(0)), "z": f(order.executed),
            "L": f(trade.price if trade else Decimal(0)), "n": f(trade.fee if trade else Decimal(0)),
            "N": trade.fee_asset if trade else None, "T": trade.time_ms if trade else self.now(),
            "t": trade.trade_id if trade else -1, "m": trade.maker if trade else False,
            "Z": f(order.quote), "C": order.client_order_id if exec_type == "CANCELED" else "",
        }
        for listener in list(self.listeners):
            listener(event)

    def now(self) -> int:
        """The exchange's clock in epoch milliseconds."""
        return now_ms() + self.skew_ms

    def new_list_id(self) -> int:
        return next(self._list_ids)


def now_ms() -> int:
    return int(time.time() * 1000)
