"""How much each protective child of a bracket covers, given the entry's filled quantity (pure).

A bracket's exits are one OCO (stop + take-profit) per take-profit fraction and a lone stop
for the remainder. They cover what is filled so far: placed after the first fill, resized
(cancel/replace) as more fills arrive. A child the exchange would refuse as too small waits
for more fills, unless the entry is done (then it is placed, and a refusal is reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from robson_execution.domain.rules import round_quantity


@dataclass(frozen=True)
class ChildLeg:
    key: str
    """The take-profit's order id (its OCO), or the lone stop's order id."""
    fraction: Decimal | None
    """The take-profit's share of the filled quantity; None for the lone stop (the rest)."""
    price: Decimal
    """Price for the notional check: the take-profit price, or the stop price."""


@dataclass(frozen=True)
class Limits:
    step_size: Decimal = Decimal(0)
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)

    def placeable(self, qty: Decimal, price: Decimal) -> bool:
        return qty > 0 and qty >= self.min_qty and qty * price >= self.min_notional


def child_quantities(legs: list[ChildLeg], filled: Decimal, limits: Limits, entry_done: bool) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    used = Decimal(0)
    for leg in legs:
        if leg.fraction is not None:
            out[leg.key] = round_quantity(filled * leg.fraction, limits.step_size)
            used += out[leg.key]
    for leg in legs:
        if leg.fraction is None:
            out[leg.key] = filled - used
    price = {leg.key: leg.price for leg in legs}
    return {k: q for k, q in out.items() if q > 0 and (entry_done or limits.placeable(q, price[k]))}
