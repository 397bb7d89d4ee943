"""Places what the consumers recorded, one action at a time per account, in order.

Never doubles an order: the attempt counter is committed *before* each call, and any action
that was attempted before is first looked up on the venue by its clientOrderId; it is sent
again only when the venue confirms it absent.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from robson_contracts import OrderSpec
from robson_kit import faults, logs

from robson_execution.adapters import repo
from robson_execution.adapters.binance import BinanceGateway, Result
from robson_execution.domain.backoff import backoff_delay
from robson_execution.domain.outcomes import Kind
from robson_execution.domain.rules import Rejection, fit_order
from robson_execution.handlers import events
from robson_execution.handlers.venue import VenueTrade, apply_final, apply_trade, mark_accepted
from robson_execution.runtime.params import oco_params, order_params

log = logs.get_logger(__name__)
DONE, WAIT = True, False
# -1013 "Filter failure: ...", -1111 "Precision is over the maximum defined for this asset".
FILTER_FAILURES = frozenset({-1013, -1111})


async def submit_loop(ex: Any) -> None:
    while True:
        await ex.wait_wake(ex.settings.submit_idle_seconds)
        for account in await ex.live_accounts():
            if account.account_id not in ex.ready:
                continue
            try:
                async with ex.locks[account.account_id]:
                    await drain(ex, account.account_id)
            except Exception as exc:
                log.error("submit.failed", account_id=account.account_id, error=repr(exc))


async def drain(ex: Any, account_id: str) -> None:
    gw = await ex.gateway(account_id)
    if gw is None:
        return
    async with ex.service.uow() as uow:
        pending = await repo.pending_actions(uow.session, account_id)
    for act in pending:
        if act.not_before and act.not_before > ex.clock.now():
            return  # head of line waits: later actions may depend on it
        handler = {"PLACE": place, "PLACE_OCO": place_oco, "CANCEL": cancel}.get(act.kind)
        if handler is None:  # e.g. REPLACE: not implemented yet; never block the queue on it
            async with ex.service.uow() as uow:
                await repo.update_action(uow.session, act.action_id, status="FAILED",
                                         result=f"{act.kind} not supported")
            log.error("submit.unsupported_action", kind=act.kind, action=act.action_id)
            continue
        outcome = await handler(ex, gw, act)
        if outcome is WAIT:
            return
        if outcome == "FAILED":
            continue
        async with ex.service.uow() as uow:
            await repo.update_action(uow.session, act.action_id, status="DONE")


async def _retry_later(ex: Any, act: Any, result: Result) -> bool:
    delay = (result.outcome.retry_after if result.outcome.kind is Kind.RATE_LIMITED
             else backoff_delay(act.attempts + 1, base=ex.settings.retry_base_seconds))
    async with ex.service.uow() as uow:
        await repo.update_action(uow.session, act.action_id, result=result.outcome.message[:300],
                                 not_before=ex.clock.now() + timedelta(seconds=delay))
    log.warning("submit.retry_later", action=act.action_id, kind=str(result.outcome.kind),
                message=result.outcome.message[:200], delay=round(delay, 3))
    return WAIT


async def _count_attempt(ex: Any, act: Any) -> None:
    async with ex.service.uow() as uow:
        await repo.update_action(uow.session, act.action_id, attempts=act.attempts + 1)


async def _reject(ex: Any, cid: str, code: str, message: str) -> None:
    async with ex.service.uow() as uow:
        row = await repo.order_by_cid(uow.session, cid, lock=True)
        if row is None or row.status != "PENDING":
            return
        await repo.update_order(uow.session, cid, ex.clock.now(), status="REJECTED", reject_reason=code)
        if not row.meta.get("silent"):
            uow.emit(events.rejected(row, code, message, ex.clock.now()))


async def _dependency(ex: Any, act: Any) -> str:
    if not act.depends_on:
        return "DONE"
    async with ex.service.uow() as uow:
        dep = await repo.action(uow.session, act.depends_on)
    return dep.status if dep else "DONE"


async def _fit(ex: Any, gw: BinanceGateway, cid: str) -> bool | None:
    """Round the order (as requested, before any earlier rounding) to the exchange rules and store
    it, or reject it. None: rules unavailable."""
    async with ex.service.uow() as uow:
        row = await repo.order_by_cid(uow.session, cid)
    requested = row.meta.get("requested") or row.spec
    spec = OrderSpec.model_validate(requested)
    rules = await ex.symbol_rules(gw, spec.symbol)
    if rules is None:
        return None
    ref = None
    if spec.price is None and spec.stop_price is None:
        ticker = await gw.call("get_symbol_ticker", symbol=spec.symbol)
        ref = Decimal(ticker.data["price"]) if ticker.ok else None
    fit = fit_order(rules, spec.quantity, spec.price, spec.stop_price, ref)
    if isinstance(fit, Rejection):
        await _reject(ex, cid, fit.reason_code, fit.message)
        return False
    fitted = spec.model_copy(update={"quantity": fit.quantity, "price": fit.price, "stop_price": fit.stop_price})
    async with ex.service.uow() as uow:
        await repo.update_order(uow.session, cid, ex.clock.now(), spec=fitted.model_dump(mode="json"),
                                meta={**row.meta, "requested": requested, "step_size": str(rules.step_size),
                                      "min_qty": str(rules.min_qty), "min_notional": str(rules.min_notional),
                                      "base_asset": rules.base_asset})
    return True


async def _size_to_remaining(ex: Any, cid: str) -> bool:
    """A replacement without a new quantity is placed for what the replaced order left unfilled
    (known once its cancel is confirmed), as paper does. False: nothing is left."""
    async with ex.service.uow() as uow:
        row = await repo.order_by_cid(uow.session, cid, lock=True)
        old_cids = row.meta.get("remaining_of")
        if not old_cids or row.meta.get("requested"):
            return True
        olds = [o for o in [await repo.order_by_cid(uow.session, c) for c in old_cids] if o is not None]
        if not olds:
            return True
        filled = max(Decimal(o.filled_qty) for o in olds)
        remaining = min(Decimal(o.spec["quantity"]) for o in olds) - filled  # same on a retry
        if remaining <= 0:
            return False
        spec = events.spec_of(row)
        if remaining != spec.quantity:
            spec = spec.model_copy(update={"quantity": remaining})
            await repo.update_order(uow.session, cid, ex.clock.now(), spec=spec.model_dump(mode="json"))
    return True


async def _refit(ex: Any, gw: BinanceGateway, act: Any, cids: list[str], result: Result) -> bool:
    """Binance refused the order on a filter our cached rules did not predict: its tick/step
    sizes may have changed. Refresh the rules and try once more (the refused order was not
    placed, so the attempt count starts again); a second refusal rejects the order."""
    if result.outcome.code not in FILTER_FAILURES:
        return False
    async with ex.service.uow() as uow:
        rows = [await repo.order_by_cid(uow.session, c) for c in cids]
        if any(r.meta.get("refit") for r in rows):
            return False
        for r in rows:
            await repo.update_order(uow.session, r.client_order_id, ex.clock.now(), meta={**r.meta, "refit": True})
        await repo.update_action(uow.session, act.action_id, attempts=0, result=result.outcome.message[:300])
    await ex.refresh_rules(gw)
    log.warning("submit.filter_failure_refit", action=act.action_id, message=result.outcome.message)
    ex.wake()
    return True


def _duplicate(result: Result) -> bool:
    """-2010 "Duplicate order sent.": an open order already carries this clientOrderId — ours,
    placed by an earlier attempt that the venue processed after we asked for it."""
    return result.outcome.code == -2010 and "duplicate" in result.outcome.message.lower()


async def _adopt_duplicate(ex: Any, gw: BinanceGateway, act: Any, symbol: str, cids: list[str],
                           result: Result) -> bool:
    """The order is live on the venue: take its view (never report it rejected, never resend)."""
    found = [await gw.query_order(symbol, c) for c in cids]
    if not all(f.ok for f in found):
        return await _retry_later(ex, act, result)  # the next attempt queries first
    for c, f in zip(cids, found, strict=True):
        await ex.adopt(gw, c, f.data, "query")
    return DONE


async def _precheck(ex: Any, gw: BinanceGateway, act: Any, cids: list[str]) -> bool | None:
    """None: go ahead. DONE/WAIT: stop here with that result."""
    async with ex.service.uow() as uow:
        rows = [await repo.order_by_cid(uow.session, c) for c in cids]
    if any(r is None or r.status != "PENDING" for r in rows):
        return DONE  # resolved already (adopted by reconciliation, canceled before placement)
    dep = await _dependency(ex, act)
    if dep == "PENDING":
        return WAIT
    if dep == "FAILED":
        for c in cids:
            await _reject(ex, c, "REPLACE_TARGET_NOT_OPEN", "the order to replace was no longer open")
        return DONE
    if not ex.breaker(rows[0].symbol).allows(ex.clock.now()):
        return WAIT
    if act.attempts > 0:  # unknown outcome before: look before sending again
        found = await gw.query_order(rows[0].symbol, cids[0])
        await ex.record(rows[0].symbol, found.outcome.kind, found.outcome.message)
        if found.ok:
            for c in cids:
                leg = found if c == cids[0] else await gw.query_order(rows[0].symbol, c)
                if leg.ok:
                    await ex.adopt(gw, c, leg.data, "query")
            return DONE
        if found.outcome.kind is not Kind.NOT_FOUND:
            return await _retry_later(ex, act, found)
    for c in cids:
        if not await _size_to_remaining(ex, c):
            for other in cids:
                await _reject(ex, other, "REPLACE_TARGET_NOT_OPEN", "the order to replace was filled")
            return DONE
    for c in cids:
        fitted = await _fit(ex, gw, c)
        if fitted is None:
            return await _retry_later(ex, act, Result(_unavailable()))
        if not fitted:
            for other in cids:
                await _reject(ex, other, "SIBLING_REJECTED", "the other leg of the OCO was rejected")
            return DONE
    return None


def _unavailable() -> Any:
    from robson_execution.domain.outcomes import Outcome
    return Outcome(Kind.UNKNOWN, 0, "exchange rules unavailable")


async def place(ex: Any, gw: BinanceGateway, act: Any) -> bool:
    cid = act.payload["cid"]
    stop = await _precheck(ex, gw, act, [cid])
    if stop is not None:
        return stop
    async with ex.service.uow() as uow:
        row = await repo.order_by_cid(uow.session, cid)
    await _count_attempt(ex, act)
    faults.point("execution.before_place")
    result = await gw.place_order(order_params(events.spec_of(row), cid))
    faults.point("execution.after_place")
    await ex.record(row.symbol, result.outcome.kind, result.outcome.message)
    if result.outcome.kind is Kind.REJECTED:
        if await _refit(ex, gw, act, [cid], result):
            return WAIT
        if _duplicate(result):
            return await _adopt_duplicate(ex, gw, act, row.symbol, [cid], result)
        await _reject(ex, cid, f"BINANCE_{abs(result.outcome.code)}", result.outcome.message)
        return DONE
    if not result.ok:
        return await _retry_later(ex, act, result)
    data = result.data
    trades = [await ex.valued(gw, row.symbol, VenueTrade.from_order_response(f, int(data.get("transactTime", 0))))
              for f in data.get("fills", [])]
    async with ex.service.uow() as uow:
        await mark_accepted(uow, cid, int(data["orderId"]))
        for trade in trades:
            await apply_trade(uow, cid, trade, "response")
        if data.get("status") in ("CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"):
            await apply_final(uow, cid, data["status"], data["status"])
    return DONE


async def place_oco(ex: Any, gw: BinanceGateway, act: Any) -> bool:
    list_cid = act.payload["list_cid"]
    async with ex.service.uow() as uow:
        rows = await repo.rows_by_list_client_id(uow.session, list_cid)
    stop_row = next(r for r in rows if r.role == "STOP_LOSS")
    take_row = next(r for r in rows if r.role == "TAKE_PROFIT")
    cids = [stop_row.client_order_id, take_row.client_order_id]
    stop = await _precheck(ex, gw, act, cids)
    if stop is not None:
        return stop
    async with ex.service.uow() as uow:
        stop_row, take_row = [await repo.order_by_cid(uow.session, c) for c in cids]
    await _count_attempt(ex, act)
    faults.point("execution.before_place")
    result = await gw.place_oco(oco_params(events.spec_of(stop_row), cids[0], events.spec_of(take_row),
                                           cids[1], list_cid))
    faults.point("execution.after_place")
    await ex.record(stop_row.symbol, result.outcome.kind, result.outcome.message)
    if result.outcome.kind is Kind.REJECTED:
        if await _refit(ex, gw, act, cids, result):
            return WAIT
        if _duplicate(result):
            return await _adopt_duplicate(ex, gw, act, stop_row.symbol, cids, result)
        for c in cids:
            await _reject(ex, c, f"BINANCE_{abs(result.outcome.code)}", result.outcome.message)
        return DONE
    if not result.ok:
        return await _retry_later(ex, act, result)
    async with ex.service.uow() as uow:
        for report in result.data.get("orderReports", []):
            await mark_accepted(uow, report["clientOrderId"], int(report["orderId"]))
    return DONE


async def cancel(ex: Any, gw: BinanceGateway, act: Any) -> bool:
    from robson_execution.runtime.cancels import cancel_action
    return await cancel_action(ex, gw, act)
