"""Balance arithmetic: holds (reserved funds) and fill settlement, all in Decimal.

Holds are keyed so OCO legs share one reservation (the larger of the two needs): only one leg
can ever fill, so reserving twice would lock funds a venue would not lock.
"""

from __future__ import annotations

from decimal import Decimal

from robson_contracts import Side

from robson_paper.domain.model import MARKET_LIKE, ZERO, Account, Order
from robson_paper.domain.rules import SymbolRules


def need(order: Order, rules: SymbolRules, fee_rate: Decimal, buffer: Decimal) -> tuple[str, Decimal]:
    """(asset, amount) an order must keep reserved for its remaining quantity."""
    if not order.live:
        return (rules.quote, ZERO)
    rem = order.remaining
    pad = (1 + buffer) if order.effective_type in MARKET_LIKE else Decimal(1)
    if order.side is Side.BUY:
        return (rules.quote, rem * order.ref_price * pad * (1 + fee_rate))
    if order.short:
        return (rules.quote, rem * order.ref_price * pad)
    return (rules.base, rem)


def set_hold(account: Account, key: str, target: dict[str, Decimal]) -> bool:
    """Move funds between free and the hold so it equals ``target``; False (and no change) if
    free funds cannot cover an increase."""
    current = account.holds.get(key, {})
    assets = set(current) | set(target)
    deltas = {a: target.get(a, ZERO) - current.get(a, ZERO) for a in assets}
    if any(d > account.free.get(a, ZERO) for a, d in deltas.items() if d > 0):
        return False
    for a, d in deltas.items():
        if d:
            account.free[a] = account.free.get(a, ZERO) - d
    kept = {a: v for a, v in target.items() if v > 0}
    if kept:
        account.holds[key] = kept
    else:
        account.holds.pop(key, None)
    return True


def take(account: Account, key: str, asset: str, amount: Decimal) -> None:
    """Spend ``amount`` of ``asset``: from the hold first, the rest from free funds."""
    hold = account.holds.get(key, {})
    from_hold = min(hold.get(asset, ZERO), amount)
    if from_hold:
        hold[asset] -= from_hold
    account.free[asset] = account.free.get(asset, ZERO) - (amount - from_hold)


def available(account: Account, key: str, asset: str) -> Decimal:
    return account.holds.get(key, {}).get(asset, ZERO) + account.free.get(asset, ZERO)


def affordable_qty(order: Order, account: Account, rules: SymbolRules, price: Decimal,
                   fee_rate: Decimal, qty: Decimal) -> Decimal:
    """The part of ``qty`` the account can pay for at ``price`` (venues never lend on spot)."""
    if order.side is Side.BUY:
        cash = available(account, order.hold_key, rules.quote)
        if qty * price * (1 + fee_rate) <= cash:
            return qty
        return min(qty, rules.round_qty(cash / (price * (1 + fee_rate))))
    if order.short:
        return qty
    have = available(account, order.hold_key, rules.base)
    return qty if qty <= have else rules.round_qty(have)


def settle(order: Order, account: Account, rules: SymbolRules, qty: Decimal, price: Decimal,
           fee: Decimal) -> None:
    """Move the assets of one fill; the fee is charged in the quote asset."""
    notional = qty * price
    base, quote = rules.base, rules.quote
    if order.side is Side.BUY:
        take(account, order.hold_key, quote, notional + fee)
        owed = account.borrowed.get(base, ZERO)
        repay = min(owed, qty)
        if repay:
            account.borrowed[base] = owed - repay
            if not account.borrowed[base]:
                del account.borrowed[base]
        account.free[base] = account.free.get(base, ZERO) + qty - repay
        return
    if order.short:
        own = min(max(account.free.get(base, ZERO), ZERO), qty)
        account.free[base] = account.free.get(base, ZERO) - own
        if qty - own:
            account.borrowed[base] = account.borrowed.get(base, ZERO) + qty - own
    else:
        take(account, order.hold_key, base, qty)
    account.free[quote] = account.free.get(quote, ZERO) + notional - fee
