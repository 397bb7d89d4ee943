"""Engine state and the primitives every order path shares: place, fill, cancel, expire."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from robson_contracts import Liquidity, OrderType, Side, TimeInForce

from robson_paper.domain import funds
from robson_paper.domain.book import SymbolBook, trigger_of
from robson_paper.domain.config import EngineConfig
from robson_paper.domain.events import (
    BalanceChanged,
    Canceled,
    Event,
    Expired,
    Filled,
    OrderRef,
)
from robson_paper.domain.market import MarketState
from robson_paper.domain.model import ZERO, Account, Order, OrderStatus
from robson_paper.domain.rules import DEFAULT_RULES, SymbolRules
from robson_paper.domain.slippage import BPS

Key = tuple[str, str]


class Engine:
    def __init__(self, config: EngineConfig | None = None,
                 rules: dict[str, SymbolRules] | None = None) -> None:
        self.config = config or EngineConfig()
        self.rules = dict(DEFAULT_RULES if rules is None else rules)
        self.accounts: dict[str, Account] = {}
        self.orders: dict[Key, Order] = {}
        """Live orders only; finished ones leave memory (they stay in the database)."""
        self.finished: set[Key] = set()
        self.books: dict[str, SymbolBook] = {}
        self.immediate: dict[str, list[Key]] = {}
        """Market / IOC / FOK orders waiting for the next price of their symbol."""
        self.markets: dict[str, MarketState] = {}
        self.seq = 0
        self.events: list[Event] = []
        self.dirty_orders: dict[Key, Order] = {}
        self.dirty_accounts: set[str] = set()
        self.dirty_markets: set[str] = set()

    # --- bookkeeping -------------------------------------------------------------------
    def drain(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def market(self, symbol: str) -> MarketState:
        state = self.markets.get(symbol)
        if state is None:
            state = self.markets[symbol] = MarketState(symbol)
        return state

    def _touch(self, order: Order, at: datetime) -> None:
        order.updated_at = at
        self.dirty_orders[order.key] = order
        self.dirty_accounts.add(order.account_id)

    def _balance_changed(self, account: Account) -> None:
        self.dirty_accounts.add(account.account_id)
        event = BalanceChanged(account.account_id, account.tenant_id)
        if event not in self.events:
            self.events.append(event)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # --- placing -------------------------------------------------------------------------
    def place(self, order: Order) -> None:
        """Put a live order where the next price will find it (book or immediate queue)."""
        self.orders[order.key] = order
        kind = order.effective_type
        if kind is OrderType.MARKET or (kind is OrderType.LIMIT and not order.triggered and (
                order.time_in_force is not TimeInForce.GTC or order.marketable)):
            self.immediate.setdefault(order.symbol, []).append(order.key)
            return
        trigger = trigger_of(order, self._through(order))
        if trigger is not None:
            self.books.setdefault(order.symbol, SymbolBook()).add(order, *trigger)

    def _through(self, order: Order) -> Decimal:
        ticks = self.config.limit_through_ticks
        return self.rules[order.symbol].tick_size * ticks if ticks else ZERO

    def _unplace(self, order: Order) -> None:
        book = self.books.get(order.symbol)
        if book is not None:
            book.remove(order.key)
        queue = self.immediate.get(order.symbol)
        if queue and order.key in queue:
            queue.remove(order.key)

    def _finish(self, order: Order, status: OrderStatus, at: datetime) -> None:
        order.status = status
        self._unplace(order)
        self.orders.pop(order.key, None)
        self.finished.add(order.key)
        self._touch(order, at)

    # --- funds ---------------------------------------------------------------------------
    def hold_target(self, order: Order) -> dict[str, Decimal]:
        """The reservation of ``order``'s hold key: the larger need of the order and its peer."""
        rules = self.rules[order.symbol]
        members = [order]
        peer = self.orders.get((order.account_id, order.oco_peer)) if order.oco_peer else None
        if peer is not None and peer.hold_key == order.hold_key:
            members.append(peer)
        target: dict[str, Decimal] = {}
        for member in members:
            asset, amount = funds.need(member, rules, self.config.hold_fee, self.config.market_buffer)
            target[asset] = max(target.get(asset, ZERO), amount)
        return target

    def rehold(self, order: Order) -> bool:
        account = self.accounts[order.account_id]
        ok = funds.set_hold(account, order.hold_key, self.hold_target(order))
        if ok:
            self._balance_changed(account)
        return ok

    def release(self, order: Order) -> None:
        """Shrink the hold after a fill/cancel: the target never grows here, so it cannot fail."""
        if not self.rehold(order):  # pragma: no cover - a shrinking hold always fits
            raise AssertionError(f"hold of {order.order_id} could not shrink")

    # --- filling -------------------------------------------------------------------------
    def slipped(self, symbol: str, price: Decimal, side: Side) -> Decimal:
        rules = self.rules[symbol]
        bps = self.config.slippage.bps(self.market(symbol).recent_range)
        raw = price * (1 + bps * BPS) if side is Side.BUY else price * (1 - bps * BPS)
        rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
        ticks = (raw / rules.tick_size).to_integral_value(rounding)
        return max(ticks * rules.tick_size, rules.tick_size)

    def fill(self, order: Order, qty: Decimal, price: Decimal, liquidity: Liquidity,
             at: datetime) -> Decimal:
        """Execute up to ``qty`` at ``price``; returns the quantity actually filled."""
        rules = self.rules[order.symbol]
        account = self.accounts[order.account_id]
        rate = self.config.maker_fee if liquidity is Liquidity.MAKER else self.config.taker_fee
        wanted = min(qty, order.remaining)
        qty = funds.affordable_qty(order, account, rules, price, rate, wanted)
        if qty <= 0:
            self.expire(order, "INSUFFICIENT_BALANCE: cannot pay for the fill", at)
            return ZERO
        fee = qty * price * rate
        funds.settle(order, account, rules, qty, price, fee)
        order.filled_qty += qty
        order.filled_notional += qty * price
        order.fees += fee
        order.fill_count += 1
        if order.remaining == 0:
            order.status = OrderStatus.FILLED
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        self.events.append(Filled(OrderRef.of(order), order.side, order.fill_count, price, qty, fee,
                                  rules.quote, liquidity, at, order.filled_qty, order.average_price,
                                  order.remaining))
        self._touch(order, at)
        peer = self.orders.get((order.account_id, order.oco_peer)) if order.oco_peer else None
        if order.status is not OrderStatus.FILLED and qty < wanted:
            # The price moved past what the hold was sized for and free funds cannot make up
            # the difference: what was paid for is filled (and protected), the rest expires,
            # as a venue would not leave an order it cannot fund resting. It ends before its
            # OCO sibling is canceled: the hold they share, spent at the worse price, is then
            # only ever shrunk (sized for the sibling with this remainder live, it would grow).
            self.after_fill(order, at)
            self.expire(order, f"INSUFFICIENT_BALANCE: filled {order.filled_qty} of "
                               f"{order.quantity}; the rest cannot be paid for at {price}", at,
                        release=False)
            if peer is not None:
                self.cancel_one(peer, "OCO_SIBLING_FILLED", at)
            self.release(order)
            self.after_end(order, at)
            return qty
        if peer is not None:
            self.cancel_one(peer, "OCO_SIBLING_FILLED", at)
        if order.status is OrderStatus.FILLED:
            self._finish(order, OrderStatus.FILLED, at)
        self.release(order)
        self.after_fill(order, at)
        return qty

    def after_fill(self, order: Order, at: datetime) -> None:
        """Hook for linked orders (bracket children)."""

    def after_end(self, order: Order, at: datetime) -> None:
        """Hook for an order that ended without filling all (expired, or canceled on its own):
        linked orders waiting for more of its fills (bracket children) are settled now."""

    def cancel_one(self, order: Order, reason: str, at: datetime) -> None:
        self._finish(order, OrderStatus.CANCELED, at)
        self.events.append(Canceled(OrderRef.of(order), reason, order.remaining))
        self.release(order)

    def expire(self, order: Order, reason: str, at: datetime, release: bool = True) -> None:
        """``release=False``: the caller releases the hold later (once an OCO sibling is gone)
        and then calls ``after_end``."""
        self._finish(order, OrderStatus.EXPIRED, at)
        self.events.append(Expired(OrderRef.of(order), reason, order.remaining))
        if release:
            self.release(order)
            self.after_end(order, at)
