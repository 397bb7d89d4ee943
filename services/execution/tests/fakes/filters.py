"""The fake exchange's symbols and filter checks (Binance's own error codes and messages)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .engine import EngineError

EXCHANGE_INFO = {
    "timezone": "UTC",
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    ],
    "symbols": [
        {
            "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
                           "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
            "ocoAllowed": True,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000.00", "tickSize": "0.01"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000.00000", "stepSize": "0.00001"},
                {"filterType": "NOTIONAL", "minNotional": "5.00", "applyMinToMarket": True,
                 "maxNotional": "9000000.00", "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
        }
    ],
}



def filters_of(info: dict[str, Any], symbol: str) -> dict[str, dict[str, Any]]:
    for s in info["symbols"]:
        if s["symbol"] == symbol:
            return {f["filterType"]: f for f in s["filters"]}
    raise EngineError(-1121, "Invalid symbol.")


def check_filters(info: dict[str, Any], symbol: str, qty: Decimal, price: Decimal | None,
                  stop: Decimal | None, last: Decimal | None) -> None:
    """Binance's checks (and codes) for the symbol's filters in ``info`` (an exchangeInfo)."""
    rules = filters_of(info, symbol)
    lot, pf, notional = rules["LOT_SIZE"], rules["PRICE_FILTER"], rules["NOTIONAL"]
    if qty < Decimal(lot["minQty"]) or qty > Decimal(lot["maxQty"]) or qty % Decimal(lot["stepSize"]) != 0:
        raise EngineError(-1013, "Filter failure: LOT_SIZE")
    for p in (price, stop):
        if p is not None and (p < Decimal(pf["minPrice"]) or p % Decimal(pf["tickSize"]) != 0):
            raise EngineError(-1013, "Filter failure: PRICE_FILTER")
    ref = price or last
    if ref is not None and qty * ref < Decimal(notional["minNotional"]):
        raise EngineError(-1013, "Filter failure: NOTIONAL")
