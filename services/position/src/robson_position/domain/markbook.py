"""The in-memory mark book: every open position marked on each price update (the hot path).

Kept apart from the aggregate so a tick costs a few Decimal operations per position: unrealized
P&L, best/worst price (MFE/MAE), peak and drawdown (the trailing rule reads the best price a
closed candle folds in from here). Durable
state is written on closed candles and fills; the book is rebuilt from the tables on start.
"""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)


class Mark:
    __slots__ = ("best", "drawdown", "entry", "last", "long", "peak", "position_id", "quantity",
                 "realized", "unrealized", "worst")

    def __init__(self, position_id: str, long: bool, entry: Decimal, quantity: Decimal,
                 realized: Decimal = ZERO, best: Decimal | None = None,
                 worst: Decimal | None = None) -> None:
        self.position_id = position_id
        self.long = long
        self.entry = entry
        self.quantity = quantity
        self.realized = realized
        self.best = best or entry
        self.worst = worst or entry
        self.last = entry
        self.unrealized = ZERO
        self.peak = realized
        self.drawdown = ZERO

    def update(self, price: Decimal) -> None:
        self.last = price
        if self.long:
            self.unrealized = (price - self.entry) * self.quantity
            if price > self.best:
                self.best = price
            elif price < self.worst:
                self.worst = price
        else:
            self.unrealized = (self.entry - price) * self.quantity
            if price < self.best:
                self.best = price
            elif price > self.worst:
                self.worst = price
        total = self.realized + self.unrealized
        if total > self.peak:
            self.peak = total
        elif self.peak - total > self.drawdown:
            self.drawdown = self.peak - total

    @property
    def mfe(self) -> Decimal:
        return max((self.best - self.entry) * self.quantity * (1 if self.long else -1), ZERO)

    @property
    def mae(self) -> Decimal:
        return min((self.worst - self.entry) * self.quantity * (1 if self.long else -1), ZERO)


class MarkBook:
    def __init__(self) -> None:
        self.by_symbol: dict[str, dict[str, Mark]] = {}
        self.prices: dict[str, Decimal] = {}

    def put(self, symbol: str, mark: Mark) -> None:
        self.by_symbol.setdefault(symbol, {})[mark.position_id] = mark

    def drop(self, symbol: str, position_id: str) -> None:
        self.by_symbol.get(symbol, {}).pop(position_id, None)

    def get(self, symbol: str, position_id: str) -> Mark | None:
        return self.by_symbol.get(symbol, {}).get(position_id)

    def on_price(self, symbol: str, price: Decimal) -> int:
        self.prices[symbol] = price
        marks = self.by_symbol.get(symbol)
        if not marks:
            return 0
        for mark in marks.values():
            mark.update(price)
        return len(marks)
