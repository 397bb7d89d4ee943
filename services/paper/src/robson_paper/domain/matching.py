"""Prices in, fills out: immediate orders, triggered stops, resting limits, bracket children.

Gap rule: a price that arrives on its own (a tick, a candle's open) is the first price past any
level it crossed, so stops fill there (the gap price), not at their stop. Between the points of
one candle's path the price moved continuously, so a stop crossed on the way fills at its stop —
whether the path comes as a closed candle (catch-up) or as the path ticks a replay publishes
(``on_tick``: a path tick after its candle's open continues the path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace as dc_replace
from datetime import UTC, datetime
from decimal import Decimal

from robson_contracts import Candle, Liquidity, OrderRole, OrderType, Side, TimeInForce
from robson_contracts.orders import rebased
from robson_contracts.pricepath import candle_path

from robson_paper.domain.engine import Engine
from robson_paper.domain.events import Accepted, OrderRef, Replaced
from robson_paper.domain.model import ZERO, BracketPlan, Order


def path_point(trade_id: str | None) -> tuple[datetime, int] | None:
    """(candle open time, index on the path) of a path tick (``path-<tf>-<open ms>-<i>``, see
    signal's ``path_ticks``); None for a traded price."""
    if trade_id is None or not trade_id.startswith("path-"):
        return None
    parts = trade_id.split("-")
    if len(parts) != 4 or not (parts[2].isdigit() and parts[3].isdigit()):
        return None
    return datetime.fromtimestamp(int(parts[2]) / 1000, UTC), int(parts[3])


def _from_fill(plan: BracketPlan, fill: Decimal, grid: Callable[[Decimal], Decimal]) -> BracketPlan:
    """The plan's levels at the same distances from the entry's average fill, on the tick grid."""
    assert plan.reference is not None

    def move(level: Decimal) -> Decimal:
        return grid(rebased(level, plan.reference, fill))  # type: ignore[arg-type]

    return dc_replace(
        plan, stop_price=move(plan.stop_price),
        stop_limit_price=move(plan.stop_limit_price) if plan.stop_limit_price else None,
        take_profits=[dc_replace(leg, price=move(leg.price)) for leg in plan.take_profits])


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

    # --- brackets --------------------------------------------------------------------------
    def after_fill(self, order: Order, at: datetime) -> None:
        if order.bracket is None:
            return
        plan, rules = order.bracket, self.rules[order.symbol]
        if plan.reference is not None and order.filled_qty > 0:
            plan = _from_fill(plan, order.average_price, rules.round_price)
        exit_side = Side.SELL if order.side is Side.BUY else Side.BUY
        cum = order.filled_qty
        tp_total = ZERO
        # Take-profits covering the whole position: the last takes what rounding left over, so
        # no dust below the venue's minimum is left under a lone stop.
        whole = sum((leg.fraction for leg in plan.take_profits), ZERO) == 1
        for i, leg in enumerate(plan.take_profits):
            last = whole and i == len(plan.take_profits) - 1
            qty = cum - tp_total if last else rules.round_qty(cum * leg.fraction)
            tp_total += qty
            self._grow_child(order, leg.order_id, exit_side, OrderType.LIMIT, qty, leg.price, None,
                             OrderRole.TAKE_PROFIT, leg.stop_order_id, leg.stop_order_id, at)
            self._grow_stop(order, plan, leg.stop_order_id, exit_side, qty, leg.order_id, at)
        self._grow_stop(order, plan, plan.stop_order_id, exit_side, cum - tp_total, None, at)

    def _grow_stop(self, parent: Order, plan: BracketPlan, order_id: str, side: Side, qty: Decimal,
                   peer: str | None, at: datetime) -> None:
        kind = OrderType.STOP_LIMIT if plan.stop_limit_price is not None else OrderType.STOP_MARKET
        self._grow_child(parent, order_id, side, kind, qty, plan.stop_limit_price, plan.stop_price,
                         OrderRole.STOP_LOSS, peer, order_id, at)

    def _grow_child(self, parent: Order, order_id: str, side: Side, kind: OrderType, qty: Decimal,
                    price: Decimal | None, stop: Decimal | None, role: OrderRole, peer: str | None,
                    hold_key: str, at: datetime) -> None:
        """Create the child at ``qty`` or raise its quantity to ``qty`` (partial entry fills)."""
        if qty <= 0:
            return
        key = (parent.account_id, order_id)
        child = self.orders.get(key)
        if child is None:
            if key in self.finished:
                return
            child = Order(parent.account_id, parent.tenant_id, order_id, parent.symbol, side, kind, qty,
                          price, stop, TimeInForce.GTC, self.next_seq(), at, role=role,
                          list_id=parent.list_id, position_id=parent.position_id,
                          parent_order_id=parent.order_id, oco_peer=peer, hold_key=hold_key,
                          ref_price=price or stop or ZERO, updated_at=at)
            self.place(child)
            self._touch(child, at)
            self.rehold(child)
            self.events.append(Accepted(OrderRef.of(child), child.spec()))
            return
        if qty <= child.quantity:
            return
        child.quantity = qty
        self._touch(child, at)
        self.rehold(child)
        self.events.append(Replaced(OrderRef.of(child), child.spec()))
