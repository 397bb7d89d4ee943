"""Live marks of open positions between the position service's own updates: each tick moves
the mark, the unrealized P&L and the R of every position held on its symbol (the same formula
as position's: price P&L of the remaining quantity, before fees)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

HOLDING = frozenset({"OPEN", "PARTIALLY_CLOSED", "CLOSING"})
FOUR = Decimal("0.0001")


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class LivePosition:
    position_id: str
    account_id: str
    symbol: str
    side: str
    entry_price: Decimal
    remaining: Decimal
    initial_risk: Decimal
    realized: Decimal = Decimal(0)

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> LivePosition | None:
        """None when the position holds nothing a price could move."""
        entry, remaining = _dec(view.get("entry_price")), _dec(view.get("remaining_quantity"))
        if view.get("status") not in HOLDING or not entry or not remaining:
            return None
        return cls(str(view["position_id"]), str(view.get("account_id", "")), str(view["symbol"]),
                   str(view["side"]), entry, remaining, _dec(view.get("initial_risk")) or Decimal(0),
                   _dec(view.get("realized_pnl")) or Decimal(0))

    @property
    def direction(self) -> int:
        return 1 if self.side == "LONG" else -1

    def mark(self, price: Decimal) -> dict[str, str | None]:
        unrealized = (price - self.entry_price) * self.remaining * self.direction
        pct = (price - self.entry_price) / self.entry_price * self.direction * 100
        # R of the trade so far: what is banked plus what the mark says, per unit of initial risk
        r = (self.realized + unrealized) / self.initial_risk if self.initial_risk else None
        return {
            "position_id": self.position_id, "symbol": self.symbol,
            "last_price": format(price, "f"), "unrealized_pnl": format(unrealized, "f"),
            "unrealized_pct": format(pct.quantize(FOUR), "f"),
            "r": None if r is None else format(r.quantize(FOUR), "f"),
        }
