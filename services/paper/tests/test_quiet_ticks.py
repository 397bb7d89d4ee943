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


def test_contracts_may_act_within_says_yes_whenever_the_book_would_fire() -> None:
    """The lockstep replay leaves a candle's ticks out when ``may_act_within`` says no order can
    act on its range: paper's exact test must then agree (for every order kind, side, level,
    trade-through setting and trigger state)."""
    from types import SimpleNamespace

    from robson_contracts import OrderSpec, OrderType, Side
    from robson_contracts.pricepath import may_act_within
    from robson_paper.domain.book import trigger_of

    rng = random.Random(11)
    kinds = [OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_MARKET, OrderType.STOP_LIMIT,
             OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT]
    checked = 0
    for _ in range(20000):
        kind, side = rng.choice(kinds), rng.choice([Side.BUY, Side.SELL])
        price = Decimal(rng.randint(90, 110)) if kind in (
            OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT) else None
        stop = Decimal(rng.randint(90, 110)) if kind not in (OrderType.LIMIT, OrderType.LIMIT_MAKER) else None
        spec = OrderSpec(order_id="o", symbol="BTCUSDT", side=side, type=kind, quantity="1",
                         price=price, stop_price=stop)
        triggered = kind in (OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT) and rng.random() < 0.5
        as_paper = SimpleNamespace(effective_type=OrderType.LIMIT if triggered else kind, side=side,
                                   price=price, stop_price=stop)
        level = trigger_of(as_paper, Decimal(rng.choice([0, 0, 1, 2])))  # type: ignore[arg-type]
        assert level is not None
        low = Decimal(rng.randint(85, 115))
        high = low + Decimal(rng.randint(0, 8))
        direction, at = level
        fires = at <= high if direction == "up" else at >= low
        if fires:
            checked += 1
            assert may_act_within(spec, low, high), (spec, triggered, low, high, level)
    assert checked > 5000
