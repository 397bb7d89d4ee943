"""Order commands from the bus: record the intent (orders + actions) in the consumer's
transaction. No network I/O here; the submitter places what was recorded, after commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from robson_contracts import (
    FINAL_ORDER_STATUSES,
    CancelOrder,
    OrderRole,
    OrderSpec,
    OrderType,
    ReplaceOrder,
    Side,
    SubmitBracketOrder,
    SubmitOcoOrder,
    SubmitOrder,
    TradingMode,
)
from robson_kit import logs
from robson_kit.errors import PermanentError
from robson_kit.uow import UnitOfWork

from robson_execution.adapters import repo
from robson_execution.domain.ids import client_order_id
from robson_execution.handlers import events

log = logs.get_logger(__name__)
Wake = Callable[[], None]


def _row(cmd: Any, spec: OrderSpec, cid: str, now: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "client_order_id": cid, "account_id": cmd.account_id, "symbol": spec.symbol,
        "order_id": spec.order_id, "position_id": cmd.position_id, "role": spec.role,
        "spec": spec.model_dump(mode="json"), "status": "PENDING",
        "correlation_id": str(cmd.correlation_id), "causation_id": str(cmd.message_id),
        "created_at": now, "updated_at": now, "meta": {}, **extra,
    }


async def _account_refusal(cmd: Any, uow: UnitOfWork) -> tuple[str, str] | None:
    account = await repo.get_account(uow.session, cmd.account_id)
    if cmd.venue is not TradingMode.LIVE:
        return "WRONG_VENUE", "execution only handles LIVE orders"
    if account is None or account.mode != "LIVE":
        return "LIVE_NOT_ENABLED", f"account {cmd.account_id} has not opted in to live trading"
    if not account.credentials:
        return "NO_API_KEYS", f"account {cmd.account_id} has no API keys"
    return None


async def _insert_or_reject(cmd: Any, uow: UnitOfWork, rows: list[dict[str, Any]]) -> bool:
    """Insert the order records; if the account may not trade, store them rejected and say so."""
    refusal = await _account_refusal(cmd, uow)
    for values in rows:
        if await repo.active_by_order_id(uow.session, cmd.account_id, values["order_id"]):
            log.info("order.duplicate_order_id", order_id=values["order_id"])
            return False
    for values in rows:
        if refusal:
            values = {**values, "status": "REJECTED", "reject_reason": refusal[0]}
        if await repo.insert_order(uow.session, **values) and refusal:
            row = await repo.order_by_cid(uow.session, values["client_order_id"])
            uow.emit(events.rejected(row, refusal[0], refusal[1], cmd.occurred_at))
    return refusal is None


def make_handlers(wake: Wake) -> dict[type, Callable[[Any, UnitOfWork], Any]]:
    async def submit(cmd: SubmitOrder, uow: UnitOfWork) -> None:
        cid = client_order_id(cmd.message_id, cmd.order.order_id)
        if await _insert_or_reject(cmd, uow, [_row(cmd, cmd.order, cid, uow.clock.now())]):
            await repo.add_action(uow.session, f"place:{cid}", cmd.account_id, cmd.order.symbol,
                                  "PLACE", {"cid": cid})
            uow.after_commit(wake)

    async def bracket(cmd: SubmitBracketOrder, uow: UnitOfWork) -> None:
        entry = cmd.entry.model_copy(update={"role": OrderRole.ENTRY})
        cid = client_order_id(cmd.message_id, entry.order_id)
        plan = cmd.model_dump(mode="json", include={"stop_price", "stop_limit_price", "stop_order_id",
                                                    "take_profits", "list_id", "levels_reference"})
        row = _row(cmd, entry, cid, uow.clock.now(), list_id=cmd.list_id, meta={"bracket": plan})
        if await _insert_or_reject(cmd, uow, [row]):
            await repo.add_action(uow.session, f"place:{cid}", cmd.account_id, entry.symbol, "PLACE", {"cid": cid})
            uow.after_commit(wake)

    async def oco(cmd: SubmitOcoOrder, uow: UnitOfWork) -> None:
        rows, list_cid = oco_rows(cmd, cmd.message_id, uow.clock.now())
        if await _insert_or_reject(cmd, uow, rows):
            await repo.add_action(uow.session, f"oco:{list_cid}", cmd.account_id, cmd.symbol,
                                  "PLACE_OCO", {"list_cid": list_cid})
            uow.after_commit(wake)

    async def cancel(cmd: CancelOrder, uow: UnitOfWork) -> None:
        target = {"order_id": cmd.order_id, "list_id": cmd.list_id}
        await repo.add_action(uow.session, f"cancel:{cmd.message_id}", cmd.account_id, cmd.symbol,
                              "CANCEL", {**target, "command": str(cmd.message_id)})
        uow.after_commit(wake)

    async def replace(cmd: ReplaceOrder, uow: UnitOfWork) -> None:
        await record_replace(cmd, uow)
        uow.after_commit(wake)

    return {SubmitOrder: submit, SubmitBracketOrder: bracket, SubmitOcoOrder: oco,
            CancelOrder: cancel, ReplaceOrder: replace}


def oco_rows(cmd: Any, seed: object, now: datetime, parent_order_id: str | None = None,
             quantity: Any = None) -> tuple[list[dict[str, Any]], str]:
    """The two legs of an OCO (stop below/above + limit-maker take-profit) as order records."""
    qty = quantity if quantity is not None else cmd.quantity
    list_cid = client_order_id(seed, "list", cmd.list_id, cmd.stop_order_id)
    stop_type = OrderType.STOP_LIMIT if cmd.stop_limit_price else OrderType.STOP_MARKET
    stop = OrderSpec(order_id=cmd.stop_order_id, symbol=cmd.symbol, side=cmd.side, type=stop_type,
                     quantity=qty, price=cmd.stop_limit_price, stop_price=cmd.stop_price,
                     role=OrderRole.STOP_LOSS)
    take = OrderSpec(order_id=cmd.take_profit_order_id, symbol=cmd.symbol, side=cmd.side,
                     type=OrderType.LIMIT_MAKER, quantity=qty, price=cmd.take_profit_price,
                     role=OrderRole.TAKE_PROFIT)
    extra = {"list_id": cmd.list_id, "list_client_id": list_cid, "parent_order_id": parent_order_id}
    return [_row(cmd, stop, client_order_id(seed, stop.order_id), now, **extra),
            _row(cmd, take, client_order_id(seed, take.order_id), now, **extra)], list_cid


def opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


async def record_replace(cmd: ReplaceOrder, uow: UnitOfWork) -> None:
    """Cancel/replace: cancel the old order (its whole OCO), then place the amended order (and
    the OCO sibling again, silently) once the cancel is confirmed; if the old order is no longer
    open the replacement is rejected, never placed next to a fill."""
    old = await repo.active_by_order_id(uow.session, cmd.account_id, cmd.order_id)
    if old is None:
        raise PermanentError("REPLACE_TARGET_UNKNOWN", f"no order {cmd.order_id} for {cmd.account_id}")
    legs = (await repo.rows_by_list_client_id(uow.session, old.list_client_id)
            if old.list_client_id else [old])
    now = uow.clock.now()
    list_cid = client_order_id(cmd.message_id, "list") if old.list_client_id else None
    new_rows = []
    for leg in legs:
        spec = OrderSpec.model_validate(leg.spec)
        update: dict[str, Any] = {}
        if cmd.quantity is not None:
            update["quantity"] = cmd.quantity
        if leg.client_order_id == old.client_order_id:
            update["order_id"] = cmd.new_order_id
            if cmd.price is not None:
                update["price"] = cmd.price
            if cmd.stop_price is not None:
                update["stop_price"] = cmd.stop_price
        new_spec = OrderSpec.model_validate({**spec.model_dump(), **update})
        amended = leg.client_order_id == old.client_order_id
        new_rows.append({
            **_row(cmd, new_spec, client_order_id(cmd.message_id, new_spec.order_id), now),
            "position_id": leg.position_id, "list_id": leg.list_id, "list_client_id": list_cid,
            "parent_order_id": leg.parent_order_id,
            "meta": ({"replaces": cmd.order_id} if amended else {"silent": True})
            # no new quantity: what is left of the old order once its cancel is confirmed
            | ({"remaining_of": [lg.client_order_id for lg in legs]} if cmd.quantity is None else {}),
        })
    if old.status in FINAL_ORDER_STATUSES:
        values = {**new_rows[0], "status": "REJECTED", "reject_reason": "REPLACE_TARGET_NOT_OPEN"}
        values = next(({**r, "status": "REJECTED"} for r in new_rows if "replaces" in r["meta"]), values)
        if await repo.insert_order(uow.session, **values):
            row = await repo.order_by_cid(uow.session, values["client_order_id"])
            uow.emit(events.rejected(row, "REPLACE_TARGET_NOT_OPEN", f"{cmd.order_id} is {old.status}", cmd.occurred_at))
        return
    for values in new_rows:
        await repo.insert_order(uow.session, **values)
    cancel_id = f"cancel:{cmd.message_id}"
    await repo.add_action(uow.session, cancel_id, cmd.account_id, cmd.symbol, "CANCEL",
                          {"cids": [leg.client_order_id for leg in legs], "supersede": True})
    if list_cid:
        await repo.add_action(uow.session, f"oco:{list_cid}", cmd.account_id, cmd.symbol, "PLACE_OCO",
                              {"list_cid": list_cid}, depends_on=cancel_id)
    else:
        cid = new_rows[0]["client_order_id"]
        await repo.add_action(uow.session, f"place:{cid}", cmd.account_id, cmd.symbol, "PLACE",
                              {"cid": cid}, depends_on=cancel_id)
