"""Protective children of a bracket entry: placed after the first fill and resized by
cancel/replace as more fills arrive, so a partially filled position is never unprotected.
A resized child is published as ``OrderReplaced`` (same order id, new quantity)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from robson_contracts import FINAL_ORDER_STATUSES, OrderRole, OrderSpec, OrderType
from robson_contracts.orders import rebased
from robson_kit.uow import UnitOfWork

from robson_execution.adapters import repo
from robson_execution.domain.brackets import ChildLeg, Limits, child_quantities, held_quantity
from robson_execution.domain.ids import client_order_id
from robson_execution.handlers import events
from robson_execution.handlers.commands import oco_rows, opposite


def _legs(plan: dict[str, Any]) -> list[ChildLeg]:
    legs = [ChildLeg(tp["order_id"], Decimal(tp["fraction"]), Decimal(tp["price"])) for tp in plan["take_profits"]]
    return [*legs, ChildLeg(plan["stop_order_id"], None, Decimal(plan["stop_price"]))]


def _limits(meta: dict[str, Any]) -> Limits:
    return Limits(*(Decimal(meta.get(k, "0")) for k in ("step_size", "min_qty", "min_notional")))


def _from_fill(plan: dict[str, Any], row: Any) -> dict[str, Any]:
    """Levels measured from ``levels_reference`` moved to the entry's average fill (as paper
    and position do); the tick rounding happens when each child is fitted to the rules."""
    ref = _opt(plan.get("levels_reference"))
    filled = Decimal(row.filled_qty)
    if ref is None or filled <= 0:
        return plan
    fill = Decimal(row.filled_quote) / filled

    def move(level: Any) -> str | None:
        return str(rebased(Decimal(level), ref, fill)) if level not in (None, "") else level

    return {**plan, "stop_price": move(plan["stop_price"]), "stop_limit_price": move(plan.get("stop_limit_price")),
            "take_profits": [{**tp, "price": move(tp["price"])} for tp in plan["take_profits"]]}


async def _held(uow: UnitOfWork, row: Any) -> Decimal:
    """The entry's filled quantity less what its commissions took from it in the base asset."""
    fees = await repo.fees_of(uow.session, row.client_order_id)
    return held_quantity(events.spec_of(row).side.value, Decimal(row.filled_qty), fees, row.symbol,
                         row.meta.get("base_asset"))


async def protect(uow: UnitOfWork, cid: str) -> None:
    """Bring the entry's children in line with what its fills left held."""
    row = await repo.order_by_cid(uow.session, cid, lock=True)
    plan = row.meta.get("bracket") if row else None
    if not plan or row.meta.get("bracket_canceled"):
        return
    plan = _from_fill(plan, row)
    wanted = child_quantities(_legs(plan), await _held(uow, row), _limits(row.meta),
                              row.status in FINAL_ORDER_STATUSES)
    children = dict(row.meta.get("children", {}))
    changed = False
    for key, qty in wanted.items():
        current = children.get(key)
        if current is None or Decimal(current["qty"]) != qty:
            children[key] = await _place_child(uow, row, plan, key, qty, current)
            changed = True
    if changed:
        await repo.update_order(uow.session, cid, uow.clock.now(), meta={**row.meta, "children": children})


async def _place_child(uow: UnitOfWork, row: Any, plan: dict[str, Any], key: str, qty: Decimal,
                       current: dict[str, Any] | None) -> dict[str, Any]:
    gen = current["gen"] + 1 if current else 1
    seed = row.client_order_id if gen == 1 else f"{row.client_order_id}:{gen}"
    cancel_id = None
    if current:  # cancel the child at its old size first; the new one waits for that
        cancel_id = f"resize:{client_order_id(seed, key)}"
        await repo.add_action(uow.session, cancel_id, row.account_id, row.symbol, "CANCEL",
                              {"cids": current["cids"], "supersede": True, "resize": True})
    tp = next((t for t in plan["take_profits"] if t["order_id"] == key), None)
    now = uow.clock.now()
    if tp is not None:
        values, list_cid = oco_rows(_oco_command(row, plan, tp), seed, now,
                                    parent_order_id=events.spec_of(row).order_id, quantity=qty)
        kind, action_id, payload = "PLACE_OCO", f"oco:{list_cid}", {"list_cid": list_cid}
    else:
        values = [_stop_row(row, plan, seed, qty, now)]
        cid = values[0]["client_order_id"]
        kind, action_id, payload = "PLACE", f"place:{cid}", {"cid": cid}
    for v in values:
        if current:
            v["meta"] = {"replaces": v["order_id"]}
        await repo.insert_order(uow.session, **v)
    await repo.add_action(uow.session, action_id, row.account_id, row.symbol, kind, payload, depends_on=cancel_id)
    return {"gen": gen, "qty": str(qty), "cids": [v["client_order_id"] for v in values]}


def _opt(value: Any) -> Decimal | None:
    return Decimal(value) if value not in (None, "") else None


def _oco_command(row: Any, plan: dict[str, Any], tp: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(
        account_id=row.account_id, position_id=row.position_id, correlation_id=row.correlation_id,
        message_id=row.causation_id, list_id=plan["list_id"], symbol=row.symbol,
        side=opposite(events.spec_of(row).side), stop_order_id=tp["stop_order_id"],
        stop_price=Decimal(plan["stop_price"]), stop_limit_price=_opt(plan.get("stop_limit_price")),
        take_profit_order_id=tp["order_id"], take_profit_price=Decimal(tp["price"]))


def _stop_row(row: Any, plan: dict[str, Any], seed: str, qty: Decimal, now: datetime) -> dict[str, Any]:
    stop_limit = _opt(plan.get("stop_limit_price"))
    stop = OrderSpec(order_id=plan["stop_order_id"], symbol=row.symbol, side=opposite(events.spec_of(row).side),
                     type=OrderType.STOP_LIMIT if stop_limit else OrderType.STOP_MARKET, quantity=qty,
                     price=stop_limit, stop_price=Decimal(plan["stop_price"]), role=OrderRole.STOP_LOSS)
    return {
        "client_order_id": client_order_id(seed, "stop", stop.order_id), "account_id": row.account_id,
        "symbol": row.symbol, "order_id": stop.order_id, "position_id": row.position_id, "role": stop.role,
        "spec": stop.model_dump(mode="json"), "status": "PENDING", "list_id": plan["list_id"],
        "parent_order_id": events.spec_of(row).order_id, "correlation_id": row.correlation_id,
        "causation_id": row.causation_id, "created_at": now, "updated_at": now, "meta": {},
    }
