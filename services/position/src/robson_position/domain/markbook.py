"""The in-memory mark book: every open position marked on each price update (the hot path).

Kept apart from the aggregate: each holding position's best and worst price since the last
candle (MFE/MAE; the trailing rule reads the best price a closed candle folds in from here) and
the last price; a tick costs the same however many positions hold its symbol. Durable
state is written on closed candles and fills; the book is rebuilt from the tables on start.
"""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)


class Mark:
    """A holding position's best and worst prices (from its stored state on, for MFE and MAE)
    and the range of prices since the mark was made (``high``/``low``: since the last candle
    fold or fill; None before any). A closed candle folds that range into the stored marks
    (``Position.mark_ranges``) — not ``best``/``worst``, whose extremes may lie before the
    running peak of P&L and would be a fall that never happened. P&L is derived on read."""

    __slots__ = ("best", "entry", "high", "last", "long", "low", "position_id", "quantity",
                 "worst")

    def __init__(self, position_id: str, long: bool, entry: Decimal, quantity: Decimal,
                 best: Decimal | None = None, worst: Decimal | None = None) -> None:
        self.position_id = position_id
        self.long = long
        self.entry = entry
        self.quantity = quantity
        self.best = best or entry
        self.worst = worst or entry
        self.last = entry
        self.high: Decimal | None = None
        self.low: Decimal | None = None

    def update(self, price: Decimal) -> None:
        self.fold(price, price, price)

    def fold(self, high: Decimal, low: Decimal, last: Decimal) -> None:
        """Prices ranging over [low, high] since the last fold, ending at ``last``."""
        self.last = last
        if self.high is None or high > self.high:
            self.high = high
        if self.low is None or low < self.low:
            self.low = low
        if self.long:
            if high > self.best:
                self.best = high
            if low < self.worst:
                self.worst = low
        else:
            if low < self.best:
                self.best = low
            if high > self.worst:
                self.worst = high

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
    """Marks by symbol. A tick moves only its symbol's range since the last fold (O(1), however
    many positions hold the symbol); the range is folded into the symbol's marks when one of
    them is read or a mark is added (a new mark must not take prices from before it)."""

    def __init__(self) -> None:
        self.by_symbol: dict[str, dict[str, Mark]] = {}
        self.prices: dict[str, Decimal] = {}
        self._moved: dict[str, list[Decimal]] = {}
        """symbol → [high, low, last] of the ticks not folded into its marks yet."""

    def put(self, symbol: str, mark: Mark) -> None:
        self._fold(symbol)
        self.by_symbol.setdefault(symbol, {})[mark.position_id] = mark

    def drop(self, symbol: str, position_id: str) -> None:
        self.by_symbol.get(symbol, {}).pop(position_id, None)

    def get(self, symbol: str, position_id: str) -> Mark | None:
        self._fold(symbol)
        return self.by_symbol.get(symbol, {}).get(position_id)

    def on_price(self, symbol: str, price: Decimal) -> int:
        self.prices[symbol] = price
        marks = self.by_symbol.get(symbol)
        if not marks:
            return 0
        moved = self._moved.get(symbol)
        if moved is None:
            self._moved[symbol] = [price, price, price]
        else:
            if price > moved[0]:
                moved[0] = price
            elif price < moved[1]:
                moved[1] = price
            moved[2] = price
        return len(marks)

    def _fold(self, symbol: str) -> None:
        moved = self._moved.pop(symbol, None)
        if moved is not None:
            high, low, last = moved
            for mark in self.by_symbol.get(symbol, {}).values():
                mark.fold(high, low, last)
