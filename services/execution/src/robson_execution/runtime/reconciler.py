"""Reconciliation on start-up, on a schedule and on demand: compare our records with the venue
(open orders, each of our unfinished orders, their trades, balances), apply the rules of
``domain.reconcile``, store and publish the report. An account trades only after its first
reconciliation completed; during each one its submitter is paused (same lock)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_contracts import (
    FINAL_ORDER_STATUSES,
    ReconciliationCompleted,
    ReconciliationItem,
    derive_id,
)
from robson_kit import logs

from robson_execution.adapters import repo
from robson_execution.domain.balances import FillDelta, Tolerance, compare_balances, totals
from robson_execution.domain.outcomes import Kind
from robson_execution.domain.reconcile import LocalOrder, VenueOrder, reconcile
from robson_execution.handlers.venue import ms
from robson_execution.handlers.venue_status import health_of
from robson_execution.runtime.snapshot import balance_snapshot

log = logs.get_logger(__name__)


class ReconciliationFailed(Exception):
    pass


async def reconcile_loop(ex: Any) -> None:
    """Start-up reconciliation (retried until it succeeds), then the schedule."""
    elapsed = 0.0
    while True:
        for account in await ex.live_accounts():
            due = account.account_id not in ex.ready or elapsed >= ex.settings.reconcile_interval_seconds
            if due and account.account_id not in ex.reconciling:
                trigger = "SCHEDULED" if account.account_id in ex.ready else "STARTUP"
                await run_safely(ex, account.account_id, trigger)
        if elapsed >= ex.settings.reconcile_interval_seconds:
            elapsed = 0.0
        await asyncio.sleep(0.5)
        elapsed += 0.5


async def run_safely(ex: Any, account_id: str, trigger: str) -> Any:
    try:
        return await reconcile_account(ex, account_id, trigger)
    except Exception as exc:
        log.warning("reconcile.failed", account_id=account_id, trigger=trigger, error=repr(exc))
        return None


async def reconcile_account(ex: Any, account_id: str, trigger: str) -> ReconciliationCompleted | None:
    gw = await ex.gateway(account_id)
    if gw is None:
        return None
    ex.reconciling.add(account_id)
    try:
        async with ex.locks[account_id]:
            report = await _reconcile(ex, gw, account_id, trigger)
    finally:
        ex.reconciling.discard(account_id)
    ex.ready.add(account_id)
    ex.ensure_stream(account_id, gw)
    ex.wake()
    return report


async def _reconcile(ex: Any, gw: Any, account_id: str, trigger: str) -> ReconciliationCompleted:
    # Balances first: every fill before this snapshot is then found by the order checks below.
    account = await gw.account()
    told = health_of(ex).observe(account_id, account.outcome.kind is not Kind.UNKNOWN,
                                 ex.clock.now(), account.outcome.message)
    if told is not None:
        async with ex.service.uow() as uow:
            uow.emit(told)
    if not account.ok:
        raise ReconciliationFailed(f"account: {account.outcome.message}")
    snapshot_at = ms(gw.server_now_ms())
    opened = await gw.open_orders()
    if not opened.ok:
        raise ReconciliationFailed(f"open orders: {opened.outcome.message}")
    async with ex.service.uow() as uow:
        rows = await repo.list_orders(uow.session, account_id)
        pending_actions = await repo.pending_actions(uow.session, account_id)
    attempted = {a.payload.get("cid") for a in pending_actions if a.attempts > 0}
    attempted |= {c for a in pending_actions if a.attempts > 0 and a.kind == "PLACE_OCO"
                  for c in [r.client_order_id for r in rows if r.list_client_id == a.payload.get("list_cid")]}
    # PENDING orders never sent need no question; the others (and all open ones) do.
    relevant = [r for r in rows if r.status not in FINAL_ORDER_STATUSES
                and (r.status != "PENDING" or r.client_order_id in attempted)]
    queried: dict[str, VenueOrder | None] = {}
    raw: dict[str, dict[str, Any]] = {}
    for row in relevant:
        res = await gw.query_order(row.symbol, row.client_order_id)
        if res.ok:
            raw[row.client_order_id] = res.data
            queried[row.client_order_id] = _venue(res.data)
        elif res.outcome.kind is Kind.NOT_FOUND:
            queried[row.client_order_id] = None
        else:
            raise ReconciliationFailed(f"query {row.client_order_id}: {res.outcome.message}")
    local = [LocalOrder(r.client_order_id, r.symbol, r.status, Decimal(r.filled_qty)) for r in relevant]
    known = [LocalOrder(r.client_order_id, r.symbol, "FILLED", Decimal(0)) for r in rows if r not in relevant]
    decisions = reconcile(local + known, queried, [_venue(o) for o in opened.data])
    by_cid = {r.client_order_id: r for r in rows}
    for d in decisions:
        if d.action in ("ADOPTED", "APPLIED") and d.client_order_id in raw:
            await ex.adopt(gw, d.client_order_id, raw[d.client_order_id], "reconcile")
        elif d.action == "CANCELED":
            await gw.cancel_order(d.symbol, d.client_order_id)
    balances = account.data.get("balances", [])
    items = tuple(ReconciliationItem(
        kind=d.kind, order_id=by_cid[d.client_order_id].order_id if d.client_order_id in by_cid else d.client_order_id,
        action=d.action, detail=d.detail) for d in decisions)
    items += await balance_items(ex, gw, account_id, totals(balances), snapshot_at)
    now = ex.clock.now()
    report = ReconciliationCompleted(
        message_id=derive_id("reconciliation", account_id, trigger, now.isoformat()),
        occurred_at=now, account_id=account_id, ok=True, items=items, trigger=trigger)
    held = [b for b in balances if Decimal(b["free"]) or Decimal(b["locked"])]
    snapshot = await balance_snapshot(gw, account_id, held, snapshot_at)
    async with ex.service.uow() as uow:
        await repo.save_reconciliation(
            uow.session, reconciliation_id=str(report.message_id), account_id=account_id, trigger=trigger,
            ok=True, items=[i.model_dump(mode="json") for i in items], completed_at=now, balances_at=snapshot_at,
            balances=held)
        uow.emit(report)
        if snapshot is not None:
            uow.emit(snapshot)
    log.info("reconcile.completed", account_id=account_id, trigger=trigger, items=len(items))
    return report


async def balance_items(ex: Any, gw: Any, account_id: str, actual: dict[str, Decimal],
                        snapshot_at: datetime) -> tuple[ReconciliationItem, ...]:
    """The rule of ``domain.balances``: flag what our fills since the last snapshot do not explain."""
    async with ex.service.uow() as uow:
        previous = await repo.last_reconciliation(uow.session, account_id)
        if previous is None or previous.balances_at is None:
            return ()  # the first snapshot is the baseline
        rows = await repo.fills_between(uow.session, account_id, previous.balances_at, snapshot_at)
    deltas = []
    for r in rows:
        rules = await ex.symbol_rules(gw, r.symbol)
        if rules is None:
            raise ReconciliationFailed(f"exchange rules for {r.symbol} unavailable")
        deltas.append(FillDelta(r.side, rules.base_asset, rules.quote_asset, Decimal(r.quantity),
                                Decimal(r.price), Decimal(r.fee), r.fee_asset))
    s = ex.settings
    mismatches = compare_balances(totals(previous.balances), deltas, actual,
                                  Tolerance(s.balance_tolerance_absolute, s.balance_tolerance_ratio))
    return tuple(ReconciliationItem(kind="BALANCE_MISMATCH", action="FLAGGED", detail=m.detail)
                 for m in mismatches)


def _venue(o: dict[str, Any]) -> VenueOrder:
    return VenueOrder(o["clientOrderId"], o["symbol"], o["status"], Decimal(o["executedQty"]))
