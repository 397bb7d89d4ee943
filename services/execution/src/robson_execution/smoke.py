"""Manual smoke test against the real Binance spot testnet (never run by the test suite).

    BINANCE_TESTNET_API_KEY=... BINANCE_TESTNET_API_SECRET=... \\
        uv run --frozen python -m robson_execution.smoke --testnet

Places one tiny LIMIT BUY far below the market (so it rests), reads it back by its
clientOrderId, cancels it, and prints each step. ``--symbol`` defaults to BTCUSDT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from decimal import Decimal

from robson_execution.adapters.binance import BinanceGateway, Endpoints
from robson_execution.adapters.vault import ApiCredentials
from robson_execution.domain.ids import client_order_id
from robson_execution.domain.rules import Rejection, fit_order


async def run(symbol: str) -> int:
    creds = ApiCredentials(os.environ["BINANCE_TESTNET_API_KEY"], os.environ["BINANCE_TESTNET_API_SECRET"])
    gw = BinanceGateway(creds, Endpoints.for_account(testnet=True))
    try:
        info = await gw.exchange_info()
        from robson_execution.domain.rules import SymbolRules
        rules = next(SymbolRules.from_exchange_info(s) for s in info.data["symbols"] if s["symbol"] == symbol)
        last = Decimal((await gw.call("get_symbol_ticker", symbol=symbol)).data["price"])
        price = last * Decimal("0.8")
        qty = (rules.min_notional * Decimal("1.5") / price)
        fit = fit_order(rules, qty, price, None, None)
        if isinstance(fit, Rejection):
            print("cannot size a tiny order:", fit)
            return 1
        cid = client_order_id(uuid.uuid4(), "smoke")
        placed = await gw.place_order({"symbol": symbol, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                       "quantity": str(fit.quantity), "price": str(fit.price),
                                       "newClientOrderId": cid})
        print("place:", placed.outcome.kind, placed.data or placed.outcome.message)
        print("query:", (await gw.query_order(symbol, cid)).data)
        canceled = await gw.cancel_order(symbol, cid)
        print("cancel:", canceled.outcome.kind, canceled.data or canceled.outcome.message)
        return 0 if placed.ok and canceled.ok else 1
    finally:
        await gw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--testnet", action="store_true", required=True, help="required: testnet only")
    parser.add_argument("--symbol", default="BTCUSDT")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.symbol)))


if __name__ == "__main__":
    main()
