"""The simulated exchange's commands: accounts, submit (single, OCO, bracket), cancel, replace."""

from __future__ import annotations

from dataclasses import replace as dc_replace
from datetime import datetime
from decimal import Decimal

from robson_contracts import OrderRole, OrderSpec, OrderType, Side, TimeInForce

from robson_paper.domain.admission import Links, ListRefused, oco_prices
from robson_paper.domain.brackets import Brackets
from robson_paper.domain.config import MarketFill
from robson_paper.domain.events import OrderRef, Rejected, Replaced
from robson_paper.domain.model import Account, BracketPlan, Order, OrderStatus, TakeProfitLeg
from robson_paper.domain.rules import RuleViolation


class Exchange(Brackets):
    # --- accounts ------------------------------------------------------------------------
    def ensure_account(self, account_id: str, tenant_id: str = "default") -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            starting = dict(self.config.default_balances)
            account = Account(account_id, tenant_id, starting=starting, free=dict(starting),
                              allow_short=self.config.default_allow_short)
            self.accounts[account_id] = account
            self._balance_changed(account)
        return account

    def configure_account(self, account_id: str, tenant_id: str, balances: dict[str, Decimal],
                          allow_short: bool) -> Account:
        """PUT semantics: a fresh (never traded) account takes the new balances at once; a
        traded one keeps its money and uses them at its next reset."""
        fresh = account_id not in self.accounts
        account = self.ensure_account(account_id, tenant_id)
        untouched = not account.holds and not account.borrowed and account.free == account.starting
        changed = account.starting != balances or account.allow_short != allow_short
        account.starting, account.allow_short = dict(balances), allow_short
        if (fresh or untouched) and account.free != balances:
            account.free = dict(balances)
            changed = True
        if changed:
            self._balance_changed(account)
        return account

    def reset_account(self, account_id: str, at: datetime) -> Account:
        account = self.ensure_account(account_id)
        for order in sorted(self._live_of(account_id), key=lambda o: o.seq):
            if order.live:
                self.cancel_one(order, "ACCOUNT_RESET", at)
        account.free, account.holds, account.borrowed = dict(account.starting), {}, {}
        self._balance_changed(account)
        return account

    def _live_of(self, account_id: str) -> list[Order]:
        return [o for o in self.orders.values() if o.account_id == account_id]

    # --- submit --------------------------------------------------------------------------
    def submit(self, account_id: str, tenant_id: str, spec: OrderSpec, at: datetime,
               links: Links | None = None) -> Order | None:
        links = links or Links()
        self.ensure_account(account_id, tenant_id)
        try:
            order = self._build(account_id, tenant_id, spec, at, links)
        except RuleViolation as exc:
            self.events.append(Rejected(self._ref(account_id, tenant_id, spec, links), exc.code,
                                        exc.message))
            return None
        self._accept(order, at)
        if order.type is OrderType.MARKET and self.config.market_fill is MarketFill.LAST_PRICE:
            self._fill_at_last_price(order, at)
        return order

    def _fill_at_last_price(self, order: Order, at: datetime) -> None:
        """Fill a just-accepted market order against the last price if it is fresh; otherwise
        it stays queued for the next price."""
        state = self.market(order.symbol)
        if state.last_price is None or state.last_time is None:
            return
        if at - state.last_time > self.config.market_fill_max_age:
            return
        self._unplace(order)
        self._fill_immediate(order, state.last_price, at, None)

    def submit_oco(self, account_id: str, tenant_id: str, list_id: str, symbol: str, side: Side,
                   quantity: Decimal, stop_id: str, stop_price: Decimal, stop_limit: Decimal | None,
                   tp_id: str, tp_price: Decimal, at: datetime, position_id: str | None = None) -> None:
        tp = OrderSpec(order_id=tp_id, symbol=symbol, side=side, type=OrderType.LIMIT,
                       quantity=quantity, price=tp_price, role=OrderRole.TAKE_PROFIT)
        stop = OrderSpec(order_id=stop_id, symbol=symbol, side=side,
                         type=OrderType.STOP_LIMIT if stop_limit else OrderType.STOP_MARKET,
                         quantity=quantity, price=stop_limit, stop_price=stop_price,
                         role=OrderRole.STOP_LOSS)
        wrong = oco_prices(side, tp_price, stop_price)
        if wrong is not None:
            ref = self._ref(account_id, tenant_id, stop, Links(list_id, position_id))
            self.events.append(Rejected(ref, wrong.code, wrong.message))
            return
        # Both legs or none, as a venue takes an OCO: a refused leg refuses the list, and each
        # leg is reported (the owner tracks both).
        legs = [(tp, Links(list_id, position_id, stop_id, stop_id)),
                (stop, Links(list_id, position_id, tp_id, stop_id))]
        self.ensure_account(account_id, tenant_id)
        try:
            built = self._build_list(account_id, tenant_id, legs, at)
        except ListRefused as refusal:
            self._refuse_list([self._ref(account_id, tenant_id, *leg) for leg in legs], refusal)
            return
        for order in built:
            self._accept(order, at)

    def submit_bracket(self, account_id: str, tenant_id: str, list_id: str, entry: OrderSpec,
                       plan: BracketPlan, at: datetime, position_id: str | None = None) -> None:
        role = entry.role or OrderRole.ENTRY
        self.submit(account_id, tenant_id, entry.model_copy(update={"role": role}), at,
                    Links(list_id, position_id, bracket=plan))

    # --- cancel / replace ------------------------------------------------------------------
    def cancel(self, account_id: str, tenant_id: str, symbol: str, order_id: str | None,
               list_id: str | None, at: datetime, position_id: str | None = None) -> None:
        if list_id is not None:
            targets = [o for o in self._live_of(account_id) if o.list_id == list_id]
        else:
            order = self.orders.get((account_id, order_id or ""))
            targets = [order] if order is not None else []
            peer = self.orders.get((account_id, order.oco_peer)) if order and order.oco_peer else None
            targets += [peer] if peer is not None else []
        if not targets:
            ref = OrderRef(account_id, tenant_id, order_id or list_id or "", symbol, list_id, position_id)
            self.events.append(Rejected(ref, "UNKNOWN_ORDER", "no open order matches"))
            return
        for order in sorted(targets, key=lambda o: o.seq):
            if order.live:
                self.cancel_one(order, "CANCELED_BY_USER", at)
                if list_id is None:  # a bracket entry alone: its waiting children settle now
                    self.after_end(order, at)

    def replace(self, account_id: str, tenant_id: str, order_id: str, new_order_id: str,
                quantity: Decimal | None, price: Decimal | None, stop_price: Decimal | None,
                at: datetime) -> None:
        old = self.orders.get((account_id, order_id))
        if old is None or (old.bracket is not None and old.filled_qty > 0):
            code = "UNKNOWN_ORDER" if old is None else "REPLACE_NOT_ALLOWED"
            ref = OrderRef(account_id, tenant_id, new_order_id, old.symbol if old else "UNKNOWN")
            self.events.append(Rejected(ref, code, f"cannot replace {order_id}"))
            return
        spec = old.spec().model_copy(update={
            "order_id": new_order_id, "quantity": quantity or old.remaining,
            "price": price or old.price, "stop_price": stop_price or old.stop_price})
        self._unplace(old)
        del self.orders[old.key]
        links = Links(old.list_id, old.position_id, old.oco_peer, old.hold_key, old.bracket, old.short)
        new = self._try_build(account_id, tenant_id, spec, at, links, old)
        if new is None:
            self.orders[old.key] = old
            self.place(old)
            self.rehold(old)
            return
        new.parent_order_id, new.triggered = old.parent_order_id, old.triggered
        old.status = OrderStatus.CANCELED
        self.finished.add(old.key)
        self._touch(old, at)
        self.place(new)
        self._touch(new, at)
        peer = self.orders.get((account_id, old.oco_peer)) if old.oco_peer else None
        if peer is not None:
            peer.oco_peer = new.order_id
            self._touch(peer, at)
        self.rehold(new)
        self.events.append(Replaced(dc_replace(OrderRef.of(new), order_id=order_id), new.spec()))


def plan_of(stop_price: Decimal, stop_limit: Decimal | None, stop_order_id: str,
            take_profits: list[tuple[str, str, Decimal, Decimal]],
            reference: Decimal | None = None) -> BracketPlan:
    return BracketPlan(stop_price, stop_limit, stop_order_id,
                       [TakeProfitLeg(*tp) for tp in take_profits], reference)


__all__ = ["Exchange", "Links", "TimeInForce", "plan_of"]
