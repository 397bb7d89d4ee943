"""The in-memory mark book: every open position marked on each price update (the hot path).

Kept apart from the aggregate so a tick costs two comparisons per position: the best and worst
price since the last candle (MFE/MAE; the trailing rule reads the best price a closed candle
folds in from here) and the last price. Durable
state is written on closed candles and fills; the book is rebuilt from the tables on start.
"""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)


class Mark:
    """A holding position's extremes since the mark was made (the last candle fold or fill):
    two comparisons a tick. P&L is derived on read; the stored peak and drawdown are folded in
    from ``best``/``worst`` on each closed candle (``Position.mark``)."""

    __slots__ = ("best", "entry", "last", "long", "position_id", "quantity", "worst")

    def __init__(self, position_id: str, long: bool, entry: Decimal, quantity: Decimal,
                 best: Decimal | None = None, worst: Decimal | None = None) -> None:
        self.position_id = position_id
        self.long = long
        self.entry = entry
        self.quantity = quantity
        self.best = best or entry
        self.worst = worst or entry
        self.last = entry

    def update(self, price: Decimal) -> None:
        self.last = price
        if self.long:
            if price > self.best:
                self.best = price
            elif price < self.worst:
                self.worst = price
        elif price < self.best:
            self.best = price
        elif price > self.worst:
            self.worst = price

    @property
    def unrealized(self) -> Decimal:
        return (self.last - self.entry) * self.quantity * (1 if self.long else -1)

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
