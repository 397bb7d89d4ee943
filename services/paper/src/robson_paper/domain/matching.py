"""Prices in, fills out: immediate orders, triggered stops, resting limits (bracket children:
``brackets.py``).

Gap rule: a price that arrives on its own (a tick, a candle's open) is the first price past any
level it crossed, so stops fill there (the gap price), not at their stop. Between the points of
one candle's path the price moved continuously, so a stop crossed on the way fills at its stop —
whether the path comes as a closed candle (catch-up) or as the path ticks a replay publishes
(``on_tick``: a path tick after its candle's open continues the path).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from robson_contracts import Candle, Liquidity, OrderType, Side, TimeInForce
from robson_contracts.pricepath import candle_path

from robson_paper.domain.engine import Engine
from robson_paper.domain.model import ZERO, Order


def path_point(trade_id: str | None) -> tuple[datetime, int] | None:
    """(candle open time, index on the path) of a path tick (``path-<tf>-<open ms>-<i>``, see
    signal's ``path_ticks``); None for a traded price."""
    if trade_id is None or not trade_id.startswith("path-"):
        return None
    parts = trade_id.split("-")
    if len(parts) != 4 or not (parts[2].isdigit() and parts[3].isdigit()):
        return None
    return datetime.fromtimestamp(int(parts[2]) / 1000, UTC), int(parts[3])


class Matching(Engine):
    def on_tick(self, symbol: str, price: Decimal, at: datetime, quantity: Decimal = ZERO,
                trade_id: str | None = None) -> None:
        """A tick. A path tick other than its candle's open continues the path from the
        previous point of the same candle, so a stop it crosses fills at the stop; the open
        (and any traded price) is a gap price."""
        point = path_point(trade_id)
        last = self.market(symbol).last_time
        continuous = (point is not None and point[1] > 0 and last is not None
                      and last >= point[0])
        self.on_price(symbol, price, at, quantity, continuous=continuous)

    def on_price(self, symbol: str, price: Decimal, at: datetime, quantity: Decimal = ZERO,
                 continuous: bool = False) -> None:
        state = self.market(symbol)
        prev = state.last_price if continuous else None
        state.last_price, state.last_time = price, at
        self.dirty_markets.add(symbol)
        if symbol not in self.rules:
            return
        volume = [quantity] if self.config.volume_limited and quantity > 0 else None
        for key in self.immediate.pop(symbol, []):
            order = self.orders.get(key)
            if order is not None and order.live:
                self._fill_immediate(order, price, at, volume)
        book = self.books.get(symbol)
        if book is None:
            return
        for key in book.pop_triggered(price):
            order = self.orders.get(key)
            if order is not None and order.live:
                self._triggered(order, price, prev, at, volume)

    def on_candle(self, candle: Candle) -> int:
        """Apply the candle's path for the part of it no tick covered; returns points applied."""
        symbol = candle.symbol
        state = self.market(symbol)
        path = candle_path(candle.open_time, candle.close_time, candle.open, candle.high,
                           candle.low, candle.close)
        last_time, fresh = state.last_time, []
        for point in path:
            if last_time is None or point.at > last_time:
                fresh.append(point)
                last_time = point.at
        if fresh and self.nothing_acts_within(symbol, candle.low, candle.high):
            state.last_price, state.last_time = fresh[-1].price, fresh[-1].at
        else:
            for i, point in enumerate(fresh):
                self.on_price(symbol, point.price, point.at, continuous=i > 0)
        state.recent_range = (candle.high - candle.low) / candle.close
        self.dirty_markets.add(symbol)
        return len(fresh)

    def nothing_acts_within(self, symbol: str, low: Decimal, high: Decimal) -> bool:
        """No order can act on any price in [low, high]: no immediate order waits for the
        symbol's next price and no resting one's level is in reach (``on_price`` would then
        only move the last price)."""
        if self.immediate.get(symbol):
            return False
        book = self.books.get(symbol)
        return book is None or not book.fires_within(low, high)

    # --- order kinds -----------------------------------------------------------------------
    def _fill_immediate(self, order: Order, price: Decimal, at: datetime,
                        volume: list[Decimal] | None) -> None:
        if order.type is OrderType.MARKET:
            self.fill(order, order.remaining, self.slipped(order.symbol, price, order.side),
                      Liquidity.TAKER, at)
            return
        assert order.price is not None
        marketable = price <= order.price if order.side is Side.BUY else price >= order.price
        available = volume[0] if volume is not None else order.remaining
        if order.marketable:
            # a GTC limit marketable on arrival: takes what this price offers, the rest rests
            order.marketable = False
            self._touch(order, at)
            if marketable:
                self._fill_limit(order, at, volume, Liquidity.TAKER, price)
            if order.live:
                self.place(order)
            return
        if not marketable:
            self.expire(order, f"{order.time_in_force}: limit {order.price} not marketable at {price}", at)
            return
        if order.time_in_force is TimeInForce.FOK and available < order.remaining:
            self.expire(order, f"FOK: only {available} available of {order.remaining}", at)
            return
        filled = self.fill(order, min(available, order.remaining), price, Liquidity.TAKER, at)
        if volume is not None:
            volume[0] -= filled
        if order.live:
            self.expire(order, "IOC: remainder not immediately fillable", at)

    def _triggered(self, order: Order, price: Decimal, prev: Decimal | None, at: datetime,
                   volume: list[Decimal] | None) -> None:
        kind = order.effective_type
        if kind in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT):
            base = self._crossing_price(order, price, prev)
            self.fill(order, order.remaining, self.slipped(order.symbol, base, order.side),
                      Liquidity.TAKER, at)
            return
        if kind in (OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
            order.triggered = True
            self._touch(order, at)
            seen = self._crossing_price(order, price, prev)
            if self._limit_reached(order, seen):
                # Marketable when it triggers: it takes the price it met (with slippage, never
                # past its limit), as a marketable limit does, not its worst allowed price.
                self._fill_limit(order, at, volume, Liquidity.TAKER, self._capped(order, seen))
            elif self._limit_reached(order, price):
                self._fill_limit(order, at, volume, Liquidity.TAKER)
            if order.live:
                self.place(order)
            return
        self._fill_limit(order, at, volume, Liquidity.MAKER)
        if order.live:
            self.place(order)

    def _crossing_price(self, order: Order, price: Decimal, prev: Decimal | None) -> Decimal:
        """The stop level when the price swept through it continuously, else the gap price."""
        assert order.stop_price is not None
        stop = order.stop_price
        if prev is not None and min(prev, price) <= stop <= max(prev, price):
            return stop
        return price

    def _limit_reached(self, order: Order, price: Decimal) -> bool:
        assert order.price is not None
        through = self._through(order)
        if order.side is Side.BUY:
            return price <= order.price - through
        return price >= order.price + through

    def _capped(self, order: Order, seen: Decimal) -> Decimal:
        """The slipped taker price at ``seen``, no worse than the order's limit."""
        assert order.price is not None
        slipped = self.slipped(order.symbol, seen, order.side)
        return min(slipped, order.price) if order.side is Side.BUY else max(slipped, order.price)

    def _fill_limit(self, order: Order, at: datetime, volume: list[Decimal] | None,
                    liquidity: Liquidity, price: Decimal | None = None) -> None:
        assert order.price is not None
        qty = order.remaining if volume is None else min(order.remaining, volume[0])
        if qty <= 0:
            return
        filled = self.fill(order, qty, order.price if price is None else price, liquidity, at)
        if volume is not None:
            volume[0] -= filled
