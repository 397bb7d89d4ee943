"""The account's balances as Binance holds them, published for the gate after each
reconciliation (``BalanceSnapshot``, mode LIVE): without it the gate sizes and watches a live
account on its policy's ``default_capital`` instead of what the account holds."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_contracts import AssetBalance, BalanceSnapshot, TradingMode, derive_id
from robson_kit import logs

QUOTE = "USDT"
log = logs.get_logger(__name__)


def equity_of(balances: Iterable[dict[str, Any]], prices: dict[str, Decimal],
              quote: str = QUOTE) -> tuple[Decimal, list[str]]:
    """Every held asset valued in ``quote`` at its last price, and the assets no ``<asset><quote>``
    price values (left out: the equity errs low, so sizes err small)."""
    total, unpriced = Decimal(0), []
    for b in balances:
        held = Decimal(b["free"]) + Decimal(b["locked"])
        if not held:
            continue
        if b["asset"] == quote:
            total += held
        elif (price := prices.get(f"{b['asset']}{quote}")) is not None:
            total += held * price
        else:
            unpriced.append(b["asset"])
    return total, unpriced


async def balance_snapshot(gw: Any, account_id: str, held: list[dict[str, Any]],
                           at: datetime) -> BalanceSnapshot | None:
    """``held``: the account's non-zero balances. None when Binance's prices cannot be read now
    (the next reconciliation publishes)."""
    res = await gw.prices()
    if not res.ok:
        log.warning("balances.not_published", account_id=account_id, error=res.outcome.message)
        return None
    prices = {t["symbol"]: Decimal(t["price"]) for t in res.data}
    equity, unpriced = equity_of(held, prices)
    if unpriced:
        log.warning("balances.unpriced_assets", account_id=account_id, assets=unpriced)
    return BalanceSnapshot(
        message_id=derive_id("live-balances", account_id, at.isoformat()), occurred_at=at,
        account_id=account_id, mode=TradingMode.LIVE, quote_asset=QUOTE,
        balances=tuple(AssetBalance(asset=b["asset"], free=Decimal(b["free"]),
                                    locked=Decimal(b["locked"])) for b in held),
        equity=equity,
    )
