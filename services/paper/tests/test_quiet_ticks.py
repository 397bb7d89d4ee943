"""A tick applied in memory (no transaction) must be one that could trigger nothing."""

from __future__ import annotations

import random
from decimal import Decimal

from robson_paper.domain.book import SymbolBook


class _Order:
    def __init__(self, seq: int) -> None:
        self.seq, self.account_id, self.order_id = seq, "acc", f"o{seq}"
        self.key = (self.account_id, self.order_id)


def test_a_single_price_fires_within_exactly_when_pop_triggered_would_return_orders() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        book = SymbolBook()
        for i in range(rng.randint(0, 6)):
            book.add(_Order(i), rng.choice(("up", "down")), Decimal(rng.randint(90, 110)))  # type: ignore[arg-type]
        price = Decimal(rng.randint(85, 115))
        before = len(book)
        fires = book.fires_within(price, price)
        assert len(book) == before  # a peek removes nothing
        assert fires == bool(book.pop_triggered(price))
