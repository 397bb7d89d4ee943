"""Balance reconciliation rule (pure).

Each reconciliation takes the exchange's balances (free + locked per asset). The change since
the previous reconciliation's snapshot must be explained by execution's own fills in between
(exchange trade times in (previous snapshot, this snapshot]): a BUY adds the quantity to the
base asset and takes quantity x price from the quote asset, a SELL the reverse, and each fee
is taken from its fee asset. Whatever is left unexplained beyond the tolerance
(``max(absolute, ratio x |expected|)``) is a BALANCE_MISMATCH, FLAGGED: nothing is ever traded,
canceled or adjusted to "fix" it. The new snapshot is the next baseline, so one unexplained
change (a deposit, a withdrawal, a trade made by hand) is reported once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class FillDelta:
    side: str
    base_asset: str
    quote_asset: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str


@dataclass(frozen=True)
class Tolerance:
    absolute: Decimal = Decimal("0.00000001")
    ratio: Decimal = Decimal("0.0001")

    def allows(self, expected: Decimal, actual: Decimal) -> bool:
        return abs(actual - expected) <= max(self.absolute, self.ratio * abs(expected))


@dataclass(frozen=True)
class BalanceMismatch:
    asset: str
    previous: Decimal
    explained: Decimal
    expected: Decimal
    actual: Decimal

    @property
    def detail(self) -> str:
        return (f"{self.asset}: exchange holds {self.actual}, expected {self.expected} (previous "
                f"{self.previous} + our fills {self.explained}); unexplained {self.actual - self.expected}")


def fill_effects(fills: Iterable[FillDelta]) -> dict[str, Decimal]:
    """Net change per asset that our fills explain."""
    change: defaultdict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        sign = 1 if f.side == "BUY" else -1
        change[f.base_asset] += sign * f.quantity
        change[f.quote_asset] -= sign * f.quantity * f.price
        change[f.fee_asset] -= f.fee
    return dict(change)


def compare_balances(previous: Mapping[str, Decimal], fills: Iterable[FillDelta],
                     actual: Mapping[str, Decimal], tolerance: Tolerance) -> list[BalanceMismatch]:
    effects = fill_effects(fills)
    out = []
    for asset in sorted(set(previous) | set(effects) | set(actual)):
        before, explained = previous.get(asset, ZERO), effects.get(asset, ZERO)
        expected, now = before + explained, actual.get(asset, ZERO)
        if not tolerance.allows(expected, now):
            out.append(BalanceMismatch(asset, before, explained, expected, now))
    return out


def totals(balances: Iterable[Mapping[str, str]]) -> dict[str, Decimal]:
    """Binance ``balances`` rows (asset, free, locked) as total per asset, zeros dropped."""
    out = {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in balances}
    return {a: v for a, v in out.items() if v}
