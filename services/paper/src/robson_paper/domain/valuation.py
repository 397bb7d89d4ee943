"""Balances as a venue reports them, and equity marked at the last price."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from robson_paper.domain.market import MarketState
from robson_paper.domain.model import ZERO, Account

Balances = list[tuple[str, Decimal, Decimal, Decimal]]
"""(asset, free, locked, borrowed) rows."""


def balances(account: Account) -> Balances:
    """(asset, free, locked, borrowed) for every asset the account has touched."""
    return [
        (a, account.free.get(a, ZERO), account.locked(a), account.borrowed.get(a, ZERO))
        for a in account.assets()
    ]


def holdings(account: Account, rows: Balances | None = None) -> dict[str, Decimal]:
    """Net amount of every asset the account holds (free + locked - borrowed), zeros left out:
    what its equity is made of, whatever the prices. ``rows``: its ``balances``, when the
    caller has them already."""
    held: dict[str, Decimal] = {}
    for asset, free, locked, borrowed in balances(account) if rows is None else rows:
        amount = free + locked - borrowed
        if amount:
            held[asset] = amount
    return held


def value(held: dict[str, Decimal], price: Callable[[str], Decimal | None],
          quote: str = "USDT") -> Decimal | None:
    """``held`` (see ``holdings``) in ``quote`` at ``price(symbol)``; None when an asset held
    cannot be priced."""
    total = ZERO
    for asset, amount in held.items():
        if asset == quote:
            total += amount
            continue
        last = price(asset + quote)
        if last is None:
            return None
        total += amount * last
    return max(total, ZERO)


def last_price(markets: dict[str, MarketState]) -> Callable[[str], Decimal | None]:
    def price(symbol: str) -> Decimal | None:
        market = markets.get(symbol)
        return None if market is None else market.last_price
    return price


def equity(account: Account, markets: dict[str, MarketState], quote: str = "USDT",
           rows: Balances | None = None) -> Decimal | None:
    """Net value in ``quote`` at each market's last price; None when an asset held cannot be
    priced. ``rows``: as for ``holdings``."""
    return value(holdings(account, rows), last_price(markets), quote)
