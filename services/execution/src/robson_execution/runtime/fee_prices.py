"""A commission paid in a third asset, valued in the symbol's quote asset.

Binance reports each trade's commission in the asset it took it from: the quote, the base (a
BUY pays in what it receives), or BNB when the account pays its fees with BNB. Position books
quote and base fees itself; a BNB fee it cannot price, and counted as zero it would overstate
every P&L and let the loss limits be exceeded by the fees. So execution values it, before the
fill's transaction (no venue call inside one), at Binance's last price of BNB in the quote,
read again once it is ``PRICE_TTL_SECONDS`` old. When that read fails, the last price read is
used meanwhile (an old BNB price is nearer the fee than none) and the read is tried again
after ``RETRY_SECONDS``. With no price at all (never read, no such pair) the fill goes out
unvalued rather than late, and a warning says so."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from robson_kit.logs import get_logger

from robson_execution.domain.rules import SymbolRules
from robson_execution.handlers.venue import VenueTrade

PRICE_TTL_SECONDS = 60.0
RETRY_SECONDS = 5.0
"""After a failed price read, the next fill waits this long before asking again."""
log = get_logger(__name__)


class PricesGateway(Protocol):
    async def prices(self) -> Any: ...


class FeePrices:
    def __init__(self, now: Callable[[], float] | None = None) -> None:
        self._now = now or (lambda: asyncio.get_running_loop().time())
        self._prices: dict[str, Decimal] = {}
        self._read_at: float | None = None
        self._tried_at: float | None = None

    async def valued(self, gw: PricesGateway, rules: SymbolRules | None,
                     trade: VenueTrade) -> VenueTrade:
        """``trade`` with ``fee_quote`` set when its commission is in a third asset."""
        if rules is None or not trade.fee or trade.fee_asset in (rules.base_asset, rules.quote_asset):
            return trade
        pair = trade.fee_asset + rules.quote_asset
        price = await self._price(gw, pair)
        if price is None:
            log.warning("execution.fee_not_valued", pair=pair, fee=str(trade.fee),
                        fee_asset=trade.fee_asset, trade_id=trade.trade_id)
            return trade
        return replace(trade, fee_quote=trade.fee * price)

    async def _price(self, gw: PricesGateway, pair: str) -> Decimal | None:
        now = self._now()
        fresh = self._read_at is not None and now - self._read_at < PRICE_TTL_SECONDS
        may_ask = self._tried_at is None or now - self._tried_at >= RETRY_SECONDS
        if not fresh and may_ask:
            self._tried_at = now
            read = _parse(await gw.prices())
            if read is not None:
                self._prices, self._read_at = read, now
        return self._prices.get(pair)


def _parse(result: Any) -> dict[str, Decimal] | None:
    if not result.ok or not isinstance(result.data, list):
        return None
    out: dict[str, Decimal] = {}
    for row in result.data:
        try:
            price = Decimal(str(row["price"]))
        except (KeyError, TypeError, InvalidOperation):
            continue
        if price.is_finite() and price > 0:
            out[str(row["symbol"])] = price
    return out
