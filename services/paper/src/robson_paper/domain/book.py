"""Resting orders indexed by trigger price, so a price update costs O(log n + triggered).

Each symbol keeps two sorted lists laid out so that the triggered entries are always a suffix:
``up`` holds orders that fire when the price rises to their level (keyed by -level), ``down``
orders that fire when it falls to their level. A price update bisects and cuts the suffix.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from decimal import Decimal

from robson_contracts import OrderType, Side

from robson_paper.domain.model import Order

Entry = tuple[Decimal, int, str, str]  # (sort key, seq, account_id, order_id)


def trigger_of(order: Order, through: Decimal) -> tuple[str, Decimal] | None:
    """(direction, level) at which a resting order acts; None for orders that do not rest."""
    kind = order.effective_type
    if kind in (OrderType.LIMIT, OrderType.LIMIT_MAKER):
        assert order.price is not None
        if order.side is Side.BUY:
            return ("down", order.price - through)
        return ("up", order.price + through)
    if kind in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
        assert order.stop_price is not None
        return ("up", order.stop_price) if order.side is Side.BUY else ("down", order.stop_price)
    if kind in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT):
        assert order.stop_price is not None
        return ("down", order.stop_price) if order.side is Side.BUY else ("up", order.stop_price)
    return None


class SymbolBook:
    __slots__ = ("down", "entries", "up")

    def __init__(self) -> None:
        self.up: list[Entry] = []
        self.down: list[Entry] = []
        self.entries: dict[tuple[str, str], tuple[str, Entry]] = {}

    def add(self, order: Order, direction: str, level: Decimal) -> None:
        entry = (-level if direction == "up" else level, order.seq, order.account_id, order.order_id)
        insort(self.up if direction == "up" else self.down, entry)
        self.entries[order.key] = (direction, entry)

    def remove(self, key: tuple[str, str]) -> None:
        found = self.entries.pop(key, None)
        if found is None:
            return
        direction, entry = found
        side = self.up if direction == "up" else self.down
        i = bisect_left(side, entry)
        if i < len(side) and side[i] == entry:
            del side[i]

    def pop_triggered(self, price: Decimal) -> list[tuple[str, str]]:
        """Remove and return every order whose level the price reached, oldest first."""
        hits: list[Entry] = []
        for side, key in ((self.up, -price), (self.down, price)):
            i = bisect_left(side, (key,))
            if i < len(side):
                hits.extend(side[i:])
                del side[i:]
        if not hits:
            return []
        hits.sort(key=lambda e: e[1])
        for e in hits:
            self.entries.pop((e[2], e[3]), None)
        return [(e[2], e[3]) for e in hits]

    def fires_within(self, low: Decimal, high: Decimal) -> bool:
        """Would any price in [low, high] reach an order's level (``pop_triggered``'s rule)?"""
        return bool((self.up and -self.up[-1][0] <= high) or (self.down and self.down[-1][0] >= low))

    def __len__(self) -> int:
        return len(self.entries)
