"""Balances as a venue reports them, and equity marked at the last price."""

from __future__ import annotations

from decimal import Decimal

from robson_paper.domain.market import MarketState
from robson_paper.domain.model import ZERO, Account


def balances(account: Account) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """(asset, free, locked, borrowed) for every asset the account has touched."""
    return [
        (a, account.free.get(a, ZERO), account.locked(a), account.borrowed.get(a, ZERO))
        for a in account.assets()
    ]


def equity(account: Account, markets: dict[str, MarketState], quote: str = "USDT") -> Decimal | None:
    """Net value in ``quote``; None when an asset held cannot be priced."""
    total = ZERO
    for asset, free, locked, borrowed in balances(account):
        amount = free + locked - borrowed
        if not amount:
            continue
        if asset == quote:
            total += amount
            continue
        market = markets.get(asset + quote)
        if market is None or market.last_price is None:
            return None
        total += amount * market.last_price
    return max(total, ZERO)
