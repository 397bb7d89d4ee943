"""Admitting an order: the venue's filters, prices already through the market, the funds it
holds, and order lists taken whole.

Every order the exchange places comes through here — a plain order, an OCO's legs, a bracket's
children — so each is refused for the same reasons, with the same ``Rejected``.
"""

from __future__ import annotations

from dataclasses import replace as dc_replace
from datetime import datetime
from decimal import Decimal

from robson_contracts import OrderSpec, OrderType, Side, TimeInForce

from robson_paper.domain import funds
from robson_paper.domain.events import Accepted, OrderRef, Rejected
from robson_paper.domain.matching import Matching
from robson_paper.domain.model import ZERO, BracketPlan, Order
from robson_paper.domain.rules import RuleViolation, SymbolRules


class Links:
    """How a new order hangs together with others (list, position, OCO peer, shared hold)."""

    def __init__(self, list_id: str | None = None, position_id: str | None = None,
                 oco_peer: str | None = None, hold_key: str | None = None,
                 bracket: BracketPlan | None = None, short: bool | None = None) -> None:
        self.list_id, self.position_id, self.oco_peer = list_id, position_id, oco_peer
        self.hold_key, self.bracket, self.short = hold_key, bracket, short


class ListRefused(Exception):
    """One leg of an order list failed (``leg``: its index), so the venue takes none of it."""

    def __init__(self, leg: int, violation: RuleViolation) -> None:
        super().__init__(str(violation))
        self.leg, self.violation = leg, violation


def oco_prices(side: Side, tp_price: Decimal, stop_price: Decimal) -> RuleViolation | None:
    """An OCO needs its take-profit on the profit side of its stop."""
    wrong = (tp_price <= stop_price) if side is Side.SELL else (tp_price >= stop_price)
    if not wrong:
        return None
    return RuleViolation("OCO_PRICES", f"{side} OCO needs the take-profit on the profit side of "
                                       f"the stop ({tp_price} vs {stop_price})")


_STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


def through_market(spec: OrderSpec, price: Decimal | None, stop: Decimal | None,
                   last: Decimal | None, in_oco: bool) -> RuleViolation | None:
    """A price already through the last one, refused as Binance refuses it: a stop that would
    trigger at once ("Stop price would trigger immediately."), an OCO leg not on its side of
    the last price (SELL: take-profit > last > stop; "The relationship of the prices for the
    orders is not correct."). Without a last price (none, or not fresh) nothing is known to be
    through."""
    if last is None:
        return None
    sell = spec.side is Side.SELL
    if spec.type in _STOPS and stop is not None and (last <= stop if sell else last >= stop):
        if in_oco:
            return RuleViolation("PRICE_RELATIONSHIP", f"{spec.side} OCO stop {stop} is not "
                                                       f"{'below' if sell else 'above'} the last price {last}")
        return RuleViolation("STOP_WOULD_TRIGGER", f"{spec.side} stop {stop} would trigger at once "
                                                   f"(last price {last})")
    if in_oco and spec.type not in _STOPS and price is not None and (last >= price if sell else last <= price):
        return RuleViolation("PRICE_RELATIONSHIP", f"{spec.side} OCO take-profit {price} is not "
                                                   f"{'above' if sell else 'below'} the last price {last}")
    return None


class Admission(Matching):
    def _ref(self, account_id: str, tenant_id: str, spec: OrderSpec, links: Links) -> OrderRef:
        return OrderRef(account_id, tenant_id, spec.order_id, spec.symbol, links.list_id,
                        links.position_id, spec.role)

    def _accept(self, order: Order, at: datetime) -> None:
        """Place a built order and announce it."""
        self.place(order)
        self.events.append(Accepted(OrderRef.of(order), order.spec()))
        self._touch(order, at)

    def _build(self, account_id: str, tenant_id: str, spec: OrderSpec, at: datetime,
               links: Links) -> Order:
        rules = self.rules.get(spec.symbol)
        if rules is None:
            raise RuleViolation("UNKNOWN_SYMBOL", f"{spec.symbol} is not traded on paper")
        if (account_id, spec.order_id) in self.orders or (account_id, spec.order_id) in self.finished:
            raise RuleViolation("DUPLICATE_ORDER", f"order id {spec.order_id} was already used")
        strict = self.config.strict_filters
        qty = rules.check_qty(spec.quantity, strict)
        price = rules.check_price(spec.price, "price", strict) if spec.price is not None else None
        stop = rules.check_price(spec.stop_price, "stop_price", strict) if spec.stop_price else None
        bracket = _plan_on_grid(links.bracket, rules, strict) if links.bracket else None
        market = self.market(spec.symbol)
        last = market.last_price
        ref = price or stop or last
        if ref is None:
            raise RuleViolation("NO_MARKET_PRICE", f"no price seen yet for {spec.symbol}")
        rules.check_notional(qty, ref)
        # Judged on a fresh price only (as fresh as a market fill wants it): Binance's is always
        # current, and a price paper restored after a restart may be hours old.
        fresh = last if market.last_time is not None \
            and at - market.last_time <= self.config.market_fill_max_age else None
        through = through_market(spec, price, stop, fresh, links.oco_peer is not None)
        if through is not None:
            raise through
        if spec.type is OrderType.LIMIT_MAKER and last is not None and price is not None and (
            (spec.side is Side.BUY and last <= price) or (spec.side is Side.SELL and last >= price)
        ):
            raise RuleViolation("WOULD_TAKE", f"LIMIT_MAKER at {price} would match at once ({last})")
        marketable = (spec.type is OrderType.LIMIT and spec.time_in_force is TimeInForce.GTC
                      and last is not None and price is not None
                      and (last <= price if spec.side is Side.BUY else last >= price))
        account = self.accounts[account_id]
        short = links.short if links.short is not None else (
            spec.side is Side.SELL and account.free.get(rules.base, ZERO) < qty and account.allow_short)
        order = Order(account_id, tenant_id, spec.order_id, spec.symbol, spec.side, spec.type, qty,
                      price, stop, spec.time_in_force, self.next_seq(), at, role=spec.role,
                      list_id=links.list_id, position_id=links.position_id, oco_peer=links.oco_peer,
                      hold_key=links.hold_key or spec.order_id, ref_price=ref, short=short,
                      updated_at=at, bracket=bracket, marketable=marketable)
        self.orders[order.key] = order
        if not self.rehold(order):
            del self.orders[order.key]
            asset, amount = funds.need(order, rules, self.config.hold_fee, self.config.market_buffer)
            # what the order's hold key can use: free funds plus what an OCO sibling already holds
            have = funds.available(account, order.hold_key, asset)
            raise RuleViolation("INSUFFICIENT_BALANCE", f"needs {amount} {asset}, free {have}")
        return order

    def _build_list(self, account_id: str, tenant_id: str, legs: list[tuple[OrderSpec, Links]],
                    at: datetime) -> list[Order]:
        """Build the legs of one list together, all or none, as a venue takes an OCO: when a leg
        is refused, those built before it are withdrawn (none was announced yet) and
        ``ListRefused`` says which leg and why. The legs sell the same quantity once, so a
        later leg is a short sale only if the first is (its base is held by the first)."""
        seq, built = self.seq, []
        account = self.accounts[account_id]
        # A leg's hold key may name an order already open (a reused id, refused below as a
        # duplicate): what the legs built before it did to the account is undone, not zeroed.
        free, holds = dict(account.free), {key: dict(hold) for key, hold in account.holds.items()}
        for i, (spec, links) in enumerate(legs):
            if built:
                links = Links(links.list_id, links.position_id, links.oco_peer, links.hold_key,
                              links.bracket, built[0].short)
            try:
                built.append(self._build(account_id, tenant_id, spec, at, links))
            except RuleViolation as exc:
                for order in built:
                    del self.orders[order.key]
                account.free, account.holds = free, holds
                self.seq = seq
                raise ListRefused(i, exc) from exc
        return built

    def _refuse_list(self, refs: list[OrderRef], refusal: ListRefused) -> None:
        """``Rejected`` for every leg of a refused list: the failed one's reason as a plain
        order gets it, the others the same code (the venue refused the list)."""
        exc, failed = refusal.violation, refs[refusal.leg].order_id
        for i, ref in enumerate(refs):
            message = exc.message if i == refusal.leg else f"{failed} refused: {exc.message}"
            self.events.append(Rejected(ref, exc.code, message))

    def _try_build(self, account_id: str, tenant_id: str, spec: OrderSpec, at: datetime,
                   links: Links, old: Order) -> Order | None:
        try:
            return self._build(account_id, tenant_id, spec, at, links)
        except RuleViolation as exc:
            self.events.append(Rejected(self._ref(account_id, tenant_id, spec, links), exc.code,
                                        exc.message))
            return None


def _plan_on_grid(plan: BracketPlan, rules: SymbolRules, strict: bool) -> BracketPlan:
    """The children's prices on the tick grid, as a single order's are (rounded, or refused
    when filters are strict): a take-profit fills at its limit, so an off-grid limit would
    fill at a price the venue cannot quote."""
    def grid(price: Decimal, field: str) -> Decimal:
        return rules.check_price(price, field, strict)

    return BracketPlan(
        grid(plan.stop_price, "stop_price"),
        grid(plan.stop_limit_price, "stop_limit_price") if plan.stop_limit_price else None,
        plan.stop_order_id,
        [dc_replace(leg, price=grid(leg.price, "take_profit.price")) for leg in plan.take_profits],
        plan.reference, list(plan.refused),
        list(plan.placed) if plan.placed is not None else None)
