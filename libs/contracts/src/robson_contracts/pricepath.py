"""The intra-candle path model shared by `signal` (ticks from candles) and `paper` (fills
from candles): open → nearer extreme → farther extreme → close. When open is equally far from
high and low, the low comes first. Every caller gets the same path, so a replay and a paper
fill agree on which of stop or take-profit was hit first. ``may_act_within`` tells whether a
resting order can act anywhere on a path (the lockstep replay leaves out the ticks of a
candle no order can act on, as the backtest does)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from robson_contracts.orders import OrderSpec, OrderType, Side, TimeInForce

ONE_MS = timedelta(milliseconds=1)


class PathPoint(NamedTuple):
    at: datetime
    price: Decimal


def candle_path(
    open_time: datetime, close_time: datetime, open_: Decimal, high: Decimal, low: Decimal, close: Decimal
) -> list[PathPoint]:
    """Four points inside [open_time, close_time): open, two extremes at 1/3 and 2/3, close."""
    span = close_time - open_time
    first, second = (high, low) if (high - open_) < (open_ - low) else (low, high)
    return [
        PathPoint(open_time, open_),
        PathPoint(open_time + span / 3, first),
        PathPoint(open_time + 2 * span / 3, second),
        PathPoint(close_time - ONE_MS, close),
    ]


def may_act_within(order: OrderSpec, low: Decimal, high: Decimal) -> bool:
    """Could a price anywhere in [low, high] fill or trigger this order at a venue? Errs on
    yes: a market or immediate-or-cancel order always may; a limit acts once the price
    touches its level (a venue may want it traded through); a stop-limit or take-profit-limit
    once its trigger is in reach or its limit is (it may have triggered before). Paper's own
    test (``SymbolBook.fires_within``) is exact; one that says no here is no there too."""
    if order.type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC:
        return True
    buy = order.side is Side.BUY
    if order.type in (OrderType.LIMIT, OrderType.LIMIT_MAKER) and order.price is not None:
        return low <= order.price if buy else high >= order.price
    stop = order.stop_price
    if stop is None:
        return True
    if order.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
        triggered = high >= stop if buy else low <= stop
    elif order.type in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT):
        triggered = low <= stop if buy else high >= stop
    else:
        return True
    limit = order.price
    return triggered or (limit is not None and (low <= limit if buy else high >= limit))
