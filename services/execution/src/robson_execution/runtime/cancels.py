"""Cancel (and the cancel half of cancel/replace). A cancel is safe to repeat: the venue
answers "unknown order" the second time, and we then take its view of the order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from robson_contracts import FINAL_ORDER_STATUSES

from robson_execution.adapters import repo
from robson_execution.adapters.binance import BinanceGateway
from robson_execution.domain.outcomes import Kind
from robson_execution.handlers import events
from robson_execution.handlers.venue import apply_final

DONE, WAIT = True, False


async def _targets(ex: Any, act: Any) -> list[Any]:
    p = act.payload
    async with ex.service.uow() as uow:
        if p.get("cids"):
            rows = [await repo.order_by_cid(uow.session, c) for c in p["cids"]]
        elif p.get("list_id"):
            rows = await repo.rows_of_list(uow.session, act.account_id, p["list_id"])
        else:
            row = await repo.active_by_order_id(uow.session, act.account_id, p["order_id"])
            rows = [row] if row else []
    return [r for r in rows if r is not None and r.status not in FINAL_ORDER_STATUSES]


async def cancel_action(ex: Any, gw: BinanceGateway, act: Any) -> bool:
    supersede = bool(act.payload.get("supersede"))
    rows = await _targets(ex, act)
    if supersede and not rows:
        return DONE if await _resizable(ex, act) else await _fail(ex, act)
    async with ex.service.uow() as uow:
        for row in rows:
            fresh = await repo.order_by_cid(uow.session, row.client_order_id, lock=True)
            meta = dict(fresh.meta)
            if meta.get("bracket"):
                meta["bracket_canceled"] = True
            if supersede:
                meta["silent_cancel"] = True
            await repo.update_order(uow.session, row.client_order_id, ex.clock.now(), meta=meta)
            if fresh.status == "PENDING":  # never sent (the queue is ordered): cancel locally
                await repo.update_order(uow.session, row.client_order_id, ex.clock.now(), status="CANCELED")
                if not supersede:
                    uow.emit(events.canceled(fresh, "CANCELED", events.spec_of(fresh).quantity, ex.clock.now()))
    lists = sorted({r.list_client_id for r in rows if r.list_client_id and r.status != "PENDING"})
    singles = [r for r in rows if not r.list_client_id and r.status != "PENDING"]
    not_open = False
    for list_cid in lists:
        res = await gw.cancel_order_list(rows[0].symbol, list_cid)
        outcome = await _settle(ex, gw, act, res, [r for r in rows if r.list_client_id == list_cid])
        if outcome is WAIT:
            return WAIT
        not_open |= outcome == "NOT_OPEN"
    for row in singles:
        res = await gw.cancel_order(row.symbol, row.client_order_id)
        outcome = await _settle(ex, gw, act, res, [row])
        if outcome is WAIT:
            return WAIT
        not_open |= outcome == "NOT_OPEN"
    if supersede:
        if not_open and not await _resizable(ex, act):
            return await _fail(ex, act, rows)
        async with ex.service.uow() as uow:
            for row in rows:
                await repo.update_order(uow.session, row.client_order_id, ex.clock.now(), superseded=True)
    return DONE


async def _settle(ex: Any, gw: BinanceGateway, act: Any, res: Any, rows: list[Any]) -> Any:
    await ex.record(rows[0].symbol, res.outcome.kind, res.outcome.message)
    if res.ok:
        for row in rows:
            venue = _report_of(res.data, row)
            if venue is not None and Decimal(venue.get("executedQty") or 0) > Decimal(row.filled_qty):
                # it filled (in part) before the cancel and we have not seen that fill (stream
                # down, or its report not here yet): fills first, then the final state
                await ex.adopt(gw, row.client_order_id, {"symbol": row.symbol, **venue}, "cancel")
                continue
            async with ex.service.uow() as uow:
                await apply_final(uow, row.client_order_id, "CANCELED", "CANCELED")
        return "OK"
    if res.outcome.kind in (Kind.NOT_FOUND, Kind.REJECTED):
        for row in rows:  # not open any more: take the venue's view (a fill, most likely)
            found = await gw.query_order(row.symbol, row.client_order_id)
            if found.ok:
                await ex.adopt(gw, row.client_order_id, found.data, "query")
        return "NOT_OPEN"
    from robson_execution.runtime.submitter import _retry_later
    return await _retry_later(ex, act, res)


def _report_of(data: Any, row: Any) -> dict[str, Any] | None:
    """The venue's view of ``row`` in a cancel response (one order, or an order list's reports)."""
    if not isinstance(data, dict):
        return None
    reports = data.get("orderReports")
    if reports is None:
        return data
    for r in reports:
        if (row.exchange_order_id is not None and r.get("orderId") == row.exchange_order_id) or \
                row.client_order_id in (r.get("origClientOrderId"), r.get("clientOrderId")):
            return r
    return None


async def _resizable(ex: Any, act: Any) -> bool:
    """A bracket child being resized that is gone without a fill (refused as too small, canceled
    by hand) is simply placed again at the new size; one that filled ends the resize."""
    if not act.payload.get("resize"):
        return False
    async with ex.service.uow() as uow:
        rows = [await repo.order_by_cid(uow.session, c) for c in act.payload["cids"]]
    return all(r is not None and Decimal(r.filled_qty) == 0 for r in rows)


async def _fail(ex: Any, act: Any, rows: list[Any] | None = None) -> bool:
    async with ex.service.uow() as uow:
        for row in rows or []:
            fresh = await repo.order_by_cid(uow.session, row.client_order_id)
            meta = {k: v for k, v in fresh.meta.items() if k != "silent_cancel"}
            await repo.update_order(uow.session, row.client_order_id, ex.clock.now(), meta=meta)
        await repo.update_action(uow.session, act.action_id, status="FAILED", result="target not open")
    return "FAILED"  # type: ignore[return-value]
