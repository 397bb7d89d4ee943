"""What the venue told us (order responses, executionReports, polled orders and trades),
applied to our records exactly once: fills are keyed by Binance trade id, state changes only
move forward, and every event id is derived from the order and trade."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from robson_contracts import FINAL_ORDER_STATUSES
from robson_kit.uow import UnitOfWork

from robson_execution.adapters import repo
from robson_execution.handlers import events
from robson_execution.handlers.brackets import protect


@dataclass(frozen=True)
class VenueTrade:
    trade_id: int
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    time_ms: int
    fee_quote: Decimal | None = None
    """The commission in the symbol's quote asset, when it was paid in a third asset and valued
    (``runtime.fee_prices``)."""

    @classmethod
    def from_rest(cls, t: dict[str, Any]) -> VenueTrade:
        return cls(int(t["id"]), Decimal(t["price"]), Decimal(t["qty"]), Decimal(t["commission"]),
                   t["commissionAsset"], bool(t["isMaker"]), int(t["time"]))

    @classmethod
    def from_report(cls, e: dict[str, Any]) -> VenueTrade:
        return cls(int(e["t"]), Decimal(e["L"]), Decimal(e["l"]), Decimal(e["n"]), e.get("N") or "USDT",
                   bool(e["m"]), int(e["T"]))

    @classmethod
    def from_order_response(cls, f: dict[str, Any], time_ms: int) -> VenueTrade:
        return cls(int(f["tradeId"]), Decimal(f["price"]), Decimal(f["qty"]), Decimal(f["commission"]),
                   f["commissionAsset"], False, time_ms)


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


async def mark_accepted(uow: UnitOfWork, cid: str, exchange_id: int | None) -> None:
    row = await repo.order_by_cid(uow.session, cid, lock=True)
    if row is None:
        return
    if exchange_id is not None and row.exchange_order_id is None:
        await repo.update_order(uow.session, cid, uow.clock.now(), exchange_order_id=exchange_id)
    if row.status != "PENDING":
        return
    await repo.update_order(uow.session, cid, uow.clock.now(), status="NEW")
    replaces = row.meta.get("replaces")
    if replaces:
        uow.emit(events.replaced(row, replaces, uow.clock.now()))
    elif not row.meta.get("silent"):
        uow.emit(events.accepted(row, uow.clock.now()))


async def apply_trade(uow: UnitOfWork, cid: str, trade: VenueTrade, source: str) -> bool:
    row = await repo.order_by_cid(uow.session, cid, lock=True)
    if row is None:
        return False
    inserted = await repo.insert_fill(
        uow.session, account_id=row.account_id, symbol=row.symbol, trade_id=trade.trade_id,
        client_order_id=cid, price=trade.price, quantity=trade.qty, fee=trade.fee,
        fee_asset=trade.fee_asset, fee_quote=trade.fee_quote, is_maker=trade.maker,
        filled_at=ms(trade.time_ms), source=source)
    if not inserted:
        return False
    cumulative = Decimal(row.filled_qty) + trade.qty
    quote = Decimal(row.filled_quote) + trade.qty * trade.price
    total = Decimal(row.spec["quantity"])
    status = "FILLED" if cumulative >= total else "PARTIALLY_FILLED"
    await repo.update_order(uow.session, cid, uow.clock.now(), filled_qty=cumulative,
                            filled_quote=quote, status=status)
    uow.emit(events.filled(row, trade.trade_id, trade.price, trade.qty, trade.fee, trade.fee_asset,
                           trade.maker, ms(trade.time_ms), cumulative, quote, trade.fee_quote))
    if row.meta.get("bracket"):
        await protect(uow, cid)
    return True


async def apply_final(uow: UnitOfWork, cid: str, venue_status: str, reason: str) -> None:
    """Canceled / expired / rejected on the venue (fills must be applied before this)."""
    row = await repo.order_by_cid(uow.session, cid, lock=True)
    if row is None or row.status in FINAL_ORDER_STATUSES:
        return
    status = "EXPIRED" if venue_status in ("EXPIRED", "EXPIRED_IN_MATCH") else "CANCELED"
    if venue_status == "REJECTED":
        status = "REJECTED"
    await repo.update_order(uow.session, cid, uow.clock.now(), status=status)
    remaining = Decimal(row.spec["quantity"]) - Decimal(row.filled_qty)
    if row.superseded or row.meta.get("silent_cancel"):
        return
    if status == "REJECTED":
        uow.emit(events.rejected(row, "VENUE_REJECTED", reason, uow.clock.now()))
    elif row.list_client_id and status == "EXPIRED":
        uow.emit(events.canceled(row, "OCO_SIBLING_FILLED", remaining, uow.clock.now()))
    else:
        uow.emit(events.canceled(row, status if status == "EXPIRED" else reason, remaining, uow.clock.now()))
    if Decimal(row.filled_qty) > 0 and row.meta.get("bracket"):
        await protect(uow, cid)


async def apply_report(uow: UnitOfWork, e: dict[str, Any], trade: VenueTrade | None = None) -> None:
    """One executionReport from the user data stream (``trade``: its trade, already valued)."""
    cid = e.get("C") or e["c"] if e.get("x") == "CANCELED" else e["c"]
    if await repo.order_by_cid(uow.session, cid) is None:
        return  # not ours (manual order): reconciliation flags it
    await mark_accepted(uow, cid, int(e["i"]))
    if e["x"] == "TRADE":
        await apply_trade(uow, cid, trade or VenueTrade.from_report(e), "stream")
    elif e["x"] in ("CANCELED", "EXPIRED", "REJECTED"):
        await apply_final(uow, cid, e["X"], e.get("r") or e["x"])
