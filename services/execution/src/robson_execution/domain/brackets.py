"""How much each protective child of a bracket covers, given what the entry's fills left held (pure).

A bracket's exits are one OCO (stop + take-profit) per take-profit fraction and a lone stop
for the remainder. They cover what is held so far: placed after the first fill, resized
(cancel/replace) as more fills arrive. A child the exchange would refuse as too small waits
for more fills, unless the entry is done (then it is placed, and a refusal is reported).
"""

from __future__ import annotations

from collections.abc import Iterable
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
    """Price for the notional check: the take-profit price (its OCO's stop leg is checked at the
    lone stop's price too), or the stop price."""


@dataclass(frozen=True)
class Limits:
    step_size: Decimal = Decimal(0)
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)

    def placeable(self, qty: Decimal, price: Decimal) -> bool:
        return qty > 0 and qty >= self.min_qty and qty * price >= self.min_notional


def held_quantity(side: str, filled: Decimal, fees: Iterable[tuple[Decimal, str]], symbol: str,
                  base_asset: str | None) -> Decimal:
    """What an entry's fills left to protect. Binance takes a trade's commission from the asset
    it receives unless it is paid with BNB: a BUY's from the base it bought, so the account holds
    the filled quantity less those fees, and a SELL for more is refused (-2010 insufficient
    balance). A SELL's commission comes from the quote (or BNB): its children buy back all it
    sold. ``position`` counts the same (``entry_fee_quantity``, LONG entries only).

    ``fees``: (commission, asset) of each of the entry's trades. ``base_asset``: the symbol's, from
    the exchange rules; None reads the symbol as ``position`` does (an asset it starts with)."""
    if side != "BUY":
        return filled

    def in_base(asset: str) -> bool:
        if base_asset:
            return asset == base_asset
        return bool(asset) and symbol.startswith(asset) and not symbol.endswith(asset)

    return filled - sum((fee for fee, asset in fees if in_base(asset)), Decimal(0))


def child_quantities(legs: list[ChildLeg], held: Decimal, limits: Limits, entry_done: bool) -> dict[str, Decimal]:
    """Each child's quantity for ``held`` (``held_quantity``) rounded down to the lot step.
    Take-profits covering the whole position: the last takes what rounding the others down
    left (as paper does), so no dust below the exchange's minimum goes to a lone stop that
    would be refused and leave it unprotected.

    A done entry that holds less than one step asks for its lone stop anyway, for what it holds:
    the exchange rules then reject it with a reason (QUANTITY_BELOW_MIN), never a silent drop."""
    protected = round_quantity(held, limits.step_size)
    out: dict[str, Decimal] = {}
    used = Decimal(0)
    takes = [leg for leg in legs if leg.fraction is not None]
    whole = sum((leg.fraction or Decimal(0) for leg in takes), Decimal(0)) == 1
    for leg in takes:
        assert leg.fraction is not None
        last = whole and leg is takes[-1]
        out[leg.key] = protected - used if last else round_quantity(protected * leg.fraction,
                                                                     limits.step_size)
        used += out[leg.key]
    for leg in legs:
        if leg.fraction is None:
            out[leg.key] = protected - used
    # an OCO is refused whole when either leg is too small: its stop is valued at the stop price
    stop = next((leg.price for leg in legs if leg.fraction is None), None)
    prices = {leg.key: [leg.price] + ([stop] if leg.fraction is not None and stop is not None else [])
              for leg in legs}
    wanted = {k: q for k, q in out.items()
              if q > 0 and (entry_done or all(limits.placeable(q, p) for p in prices[k]))}
    if entry_done and not wanted and held > 0:
        return {leg.key: held for leg in legs if leg.fraction is None}
    return wanted
