"""Bracket children: the protective orders an entry releases as (and as far as) it fills.

Per take-profit an OCO (limit take-profit + stop) on its fraction of the filled quantity, the
rest under a stop alone; the filled quantity is cut down to the step first (a venue refuses a
quantity off it, and never sells more than is held). Each child is admitted as a plain order
is (``Admission``): LOT_SIZE, MIN_NOTIONAL, funds, OCO prices, and prices already through the
market (an OCO not on either side of the last price, ``PRICE_RELATIONSHIP``; a lone stop that
would trigger at once, ``STOP_WOULD_TRIGGER``: Binance refuses both). A child too small for the venue (LOT_SIZE,
MIN_NOTIONAL) waits for more fills while the entry can still fill, as ``execution`` does live;
once the entry is done (filled, expired, or canceled on its own) it is placed or refused.
Refused means one ``Rejected`` per child (an OCO is refused whole), as for a plain order, and
the child is never placed later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from datetime import datetime
from decimal import Decimal

from robson_contracts import OrderRole, OrderSpec, OrderType, Side
from robson_contracts.orders import rebased

from robson_paper.domain import funds
from robson_paper.domain.admission import Admission, Links, ListRefused, oco_prices
from robson_paper.domain.events import OrderRef, Replaced
from robson_paper.domain.model import ZERO, BracketPlan, Order, OrderStatus
from robson_paper.domain.rules import RuleViolation, SymbolRules

GROWS_WITH_FILLS = frozenset({"LOT_SIZE", "MIN_NOTIONAL"})
"""Refusals a larger fill can cure: the child waits for one while the entry can still fill."""


@dataclass(frozen=True)
class Child:
    order_id: str
    type: OrderType
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    role: OrderRole
    peer: str | None
    hold_key: str


def layout(plan: BracketPlan, filled: Decimal, rules: SymbolRules) -> list[list[Child]]:
    """The children for ``filled``, one list each: (take-profit, its stop) per take-profit, then
    the lone stop for the rest. Take-profits covering the whole position: the last takes what
    rounding left over, so no dust below the venue's minimum is left under a lone stop."""
    cum = rules.round_qty(filled)
    kind = OrderType.STOP_LIMIT if plan.stop_limit_price is not None else OrderType.STOP_MARKET

    def stop(order_id: str, qty: Decimal, peer: str | None) -> Child:
        return Child(order_id, kind, qty, plan.stop_limit_price, plan.stop_price,
                     OrderRole.STOP_LOSS, peer, order_id)

    whole = sum((leg.fraction for leg in plan.take_profits), ZERO) == 1
    groups: list[list[Child]] = []
    tp_total = ZERO
    for i, leg in enumerate(plan.take_profits):
        last = whole and i == len(plan.take_profits) - 1
        qty = cum - tp_total if last else rules.round_qty(cum * leg.fraction)
        tp_total += qty
        take = Child(leg.order_id, OrderType.LIMIT, qty, leg.price, None, OrderRole.TAKE_PROFIT,
                     leg.stop_order_id, leg.stop_order_id)
        groups.append([take, stop(leg.stop_order_id, qty, leg.order_id)])
    if not whole:
        groups.append([stop(plan.stop_order_id, cum - tp_total, None)])
    return groups


def _from_fill(plan: BracketPlan, fill: Decimal, grid: Callable[[Decimal], Decimal]) -> BracketPlan:
    """The plan's levels at the same distances from the entry's average fill, on the tick grid."""
    assert plan.reference is not None

    def move(level: Decimal) -> Decimal:
        return grid(rebased(level, plan.reference, fill))  # type: ignore[arg-type]

    return dc_replace(
        plan, stop_price=move(plan.stop_price),
        stop_limit_price=move(plan.stop_limit_price) if plan.stop_limit_price else None,
        take_profits=[dc_replace(leg, price=move(leg.price)) for leg in plan.take_profits])


def _before_build(group: list[Child], side: Side, rules: SymbolRules) -> ListRefused | None:
    """What refuses a list before its orders can even be written: OCO prices on the wrong
    sides, or a share that rounds to nothing (LOT_SIZE, as a plain order below the minimum)."""
    if len(group) == 2:  # (take-profit, stop): refused OCO_PRICES as a plain OCO, on its stop
        take, stop = group
        assert take.price is not None and stop.stop_price is not None
        wrong = oco_prices(side, take.price, stop.stop_price)
        if wrong is not None:
            return ListRefused(1, wrong)
    for i, child in enumerate(group):
        if child.quantity <= 0:
            return ListRefused(i, RuleViolation(
                "LOT_SIZE", f"quantity {child.quantity} is below the minimum {rules.min_qty}"))
    return None


class Brackets(Admission):
    def after_fill(self, order: Order, at: datetime) -> None:
        if order.bracket is not None:
            self._protect(order, not order.live, at)

    def after_end(self, order: Order, at: datetime) -> None:
        if order.bracket is not None:
            self._protect(order, True, at)

    def _protect(self, parent: Order, done: bool, at: datetime) -> None:
        """Bring the children in line with what the entry filled (``done``: it fills no more)."""
        plan, rules = parent.bracket, self.rules[parent.symbol]
        if plan is None or parent.filled_qty <= 0:
            return
        if plan.reference is not None:
            plan = _from_fill(plan, parent.average_price, rules.round_price)
        groups = layout(plan, parent.filled_qty, rules)
        for group in groups:  # shrinks first: the base they free pays for the growths
            self._shrink(parent, group, at)
        for group in groups:
            self._protect_with(parent, group, done, at)

    def _protect_with(self, parent: Order, group: list[Child], done: bool, at: datetime) -> None:
        assert parent.bracket is not None
        if any(child.order_id in parent.bracket.refused for child in group):
            return
        found = [(child, self._child_of(parent, child.order_id)) for child in group]
        placed = parent.bracket.placed
        if any(o is not None or (c.order_id in placed if placed is not None
                                 else (parent.account_id, c.order_id) in self.finished)
               for c, o in found):
            self._grow(parent, [(o, c.quantity) for c, o in found if o is not None], at)
            return
        side = Side.SELL if parent.side is Side.BUY else Side.BUY
        refusal = _before_build(group, side, self.rules[parent.symbol])
        built: list[Order] = []
        if refusal is None:
            legs = [(self._spec(parent, child, side), Links(parent.list_id, parent.position_id,
                                                          child.peer, child.hold_key, short=False))
                    for child in group]
            try:
                built = self._build_list(parent.account_id, parent.tenant_id, legs, at)
            except ListRefused as exc:
                refusal = exc
        if refusal is not None:
            if not done and refusal.violation.code in GROWS_WITH_FILLS:
                return  # too small for now: a later fill may make it placeable
            self._refuse(parent, [self._child_ref(parent, c.order_id, c.role) for c in group],
                         refusal, at)
            return
        for order in built:
            order.parent_order_id = parent.order_id
            self._accept(order, at)
        if placed is not None:
            placed.extend(order.order_id for order in built)
            self._touch(parent, at)

    def _shrink(self, parent: Order, group: list[Child], at: datetime) -> None:
        """Lower live children whose share of what is held went down (the layout of a larger
        fill can give one child a step less), never below what they filled; as the venue's
        cancel/replace of any child whose quantity differs."""
        for child in group:
            order = self._child_of(parent, child.order_id)
            if order is None or child.quantity >= order.quantity:
                continue
            order.quantity = max(child.quantity, order.filled_qty)
            self.rehold(order)  # a smaller hold always fits
            self._touch(order, at)
            self.events.append(Replaced(OrderRef.of(order), order.spec()))

    def _grow(self, parent: Order, members: list[tuple[Order, Decimal]], at: datetime) -> None:
        """Raise live children to their new quantity; their (shared) hold grows with them. When
        the account cannot fund that, the venue's cancel/replace leaves nothing: they end,
        unannounced as a replaced order is, and are refused."""
        grown = [(child, child.quantity) for child, qty in members if qty > child.quantity]
        if not grown:
            return
        for child, qty in members:
            child.quantity = max(child.quantity, qty)
        if all(self.rehold(child) for child, _ in grown):
            for child, _ in grown:
                self._touch(child, at)
                self.events.append(Replaced(OrderRef.of(child), child.spec()))
            return
        refusal = ListRefused(0, self._unfunded(grown[0][0]))
        for child, before in grown:
            child.quantity = before
        for child, _ in grown:
            self._finish(child, OrderStatus.CANCELED, at)
            self.release(child)
        self._refuse(parent, [OrderRef.of(child) for child, _ in grown], refusal, at)

    def _unfunded(self, child: Order) -> RuleViolation:
        asset, amount = next(iter(self.hold_target(child).items()))
        have = funds.available(self.accounts[child.account_id], child.hold_key, asset)
        return RuleViolation("INSUFFICIENT_BALANCE", f"needs {amount} {asset}, free {have}")

    def _refuse(self, parent: Order, refs: list[OrderRef], refusal: ListRefused,
                at: datetime) -> None:
        """Tell the owner (``Rejected`` per child) and remember: never placed later."""
        assert parent.bracket is not None
        self._refuse_list(refs, refusal)
        parent.bracket.refused.extend(ref.order_id for ref in refs)
        self._touch(parent, at)

    def _child_of(self, parent: Order, order_id: str) -> Order | None:
        order = self.orders.get((parent.account_id, order_id))
        return order if order is not None and order.parent_order_id == parent.order_id else None

    def _child_ref(self, parent: Order, order_id: str, role: OrderRole) -> OrderRef:
        return OrderRef(parent.account_id, parent.tenant_id, order_id, parent.symbol,
                        parent.list_id, parent.position_id, role, parent.order_id)

    def _spec(self, parent: Order, child: Child, side: Side) -> OrderSpec:
        return OrderSpec(order_id=child.order_id, symbol=parent.symbol, side=side, type=child.type,
                         quantity=child.quantity, price=child.price, stop_price=child.stop_price,
                         role=child.role)
