"""A venue's lot rules for one symbol, as position sizes orders by them (``SymbolRules`` from
the bus): quantities cut down to the step, and what the venue would refuse (below its minimum
quantity or minimum notional) found before it is sent rather than after.

Without rules for a symbol (none told yet, an old run) nothing here is used: quantities are
sized as before, and a refusal is answered by ``refusals.py``, which stays the fallback for
rules that were wrong or changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from robson_contracts import SymbolRules

ZERO = Decimal(0)


@dataclass(frozen=True)
class LotRules:
    step_size: Decimal
    min_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    base_asset: str = field(default="", compare=False)
    """The symbol's base asset as the venue names it ("" not told): which asset a commission
    was taken in is read by it, not off the symbol's name (``pnl.fee_in_quote``). Not a lot
    rule: rules compare equal without it."""
    quote_asset: str = field(default="", compare=False)

    @classmethod
    def of(cls, told: SymbolRules) -> LotRules:
        return cls(told.step_size, told.min_qty, told.min_notional, told.base_asset,
                   told.quote_asset)

    def floor(self, quantity: Decimal) -> Decimal:
        """``quantity`` cut down to the step (what is below one step is dust no order sells)."""
        return (quantity / self.step_size).to_integral_value(ROUND_DOWN) * self.step_size

    def tradable(self, quantity: Decimal, *prices: Decimal | None) -> bool:
        """Whether the venue takes an order of ``quantity`` (on the step) at each of ``prices``."""
        return quantity > 0 and quantity >= self.min_qty and all(
            quantity * p >= self.min_notional for p in prices if p is not None)


def fit_split(held: Decimal, fractions: Sequence[Decimal], covers_all: bool, rules: LotRules,
              prices: Sequence[Decimal], stop: Decimal) -> tuple[list[Decimal], Decimal] | None:
    """Protection for ``held`` on the venue's grid: one quantity per take-profit (its share of
    ``held`` cut down to the step; the last takes the remainder when the shares cover
    everything; 0 for a level folded into another) and the stop alone's quantity. The stops
    together cover ``held`` cut down to the step. None when not even one stop for all of it
    would be taken: the caller protects it as before and the venue's refusal is answered."""
    total = rules.floor(held)
    if not rules.tradable(total, stop):
        return None
    parts = [rules.floor(total * f) for f in fractions]
    if parts and covers_all:
        parts[-1] = total - sum(parts[:-1], ZERO)
    return _folded(parts, total - sum(parts, ZERO), rules, prices, stop)


def _folded(parts: list[Decimal], rest: Decimal, rules: LotRules, prices: Sequence[Decimal],
            stop: Decimal) -> tuple[list[Decimal], Decimal]:
    """A level whose OCO the venue would refuse (either leg below its minimums) gives its
    quantity to the next level; what the last one gives goes to the stop alone (or, with no
    stop alone, to the last level kept). A stop alone too small joins the last level kept."""
    out: list[Decimal] = []
    carry = ZERO
    for qty, price in zip(parts, prices, strict=True):
        qty, carry = qty + carry, ZERO
        if qty > 0 and not rules.tradable(qty, price, stop):
            qty, carry = ZERO, qty
        out.append(qty)
    kept = [i for i, qty in enumerate(out) if qty > 0]
    if carry > 0:
        if rest > 0 or not kept:
            rest += carry
        else:
            out[kept[-1]] += carry
    if rest > 0 and kept and not rules.tradable(rest, stop):
        out[kept[-1]] += rest
        rest = ZERO
    return out, rest


def close_quantity(held: Decimal, fraction: Decimal, rules: LotRules, price: Decimal | None,
                   stop: Decimal | None) -> Decimal:
    """What a close of ``fraction`` of ``held`` sells at market: its share cut down to the step;
    all of ``held`` when what would stay could not be protected by a stop (below the venue's
    minimums: it would be left unprotected); 0 when the share itself is below them."""
    quantity = rules.floor(held * fraction)
    if quantity >= held:
        return held
    if not rules.tradable(rules.floor(held - quantity), stop or price):
        return held
    return quantity if rules.tradable(quantity, price) else ZERO
