"""Domain events → contract messages, with ids derived from the cause (replays are identical)."""

from __future__ import annotations

import uuid
from datetime import datetime

from robson_contracts import (
    AssetBalance,
    BalanceSnapshot,
    Fill,
    Message,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
    TradingMode,
    derive_id,
)

from robson_paper.adapters.store import fill_id
from robson_paper.domain import Exchange
from robson_paper.domain import events as ev
from robson_paper.domain.valuation import balances, equity

PAPER = TradingMode.PAPER


def messages(events: list[ev.Event], ex: Exchange, cause_id: uuid.UUID, correlation_id: uuid.UUID,
             at: datetime) -> list[Message]:
    """One message per order event in order, then one BalanceSnapshot per touched account."""
    out: list[Message] = []
    snapshots: list[ev.BalanceChanged] = []
    cause = str(cause_id)  # once, not per derived id
    for i, event in enumerate(events):
        if isinstance(event, ev.BalanceChanged):
            if event not in snapshots:
                snapshots.append(event)
            continue
        tracing = {"message_id": derive_id("paper", cause, i),
                   "correlation_id": correlation_id, "causation_id": cause_id}
        out.append(_order_message(event, tracing, at))
    for j, change in enumerate(snapshots):
        tracing = {"message_id": derive_id("paper-balance", cause, j),
                   "correlation_id": correlation_id, "causation_id": cause_id}
        out.append(snapshot(ex, change.account_id, tracing, at))
    return out


def _common(ref: ev.OrderRef, tracing: dict[str, object], at: datetime) -> dict[str, object]:
    return {**tracing, "occurred_at": at, "tenant_id": ref.tenant_id, "account_id": ref.account_id,
            "venue": PAPER, "order_id": ref.order_id, "symbol": ref.symbol, "list_id": ref.list_id,
            "position_id": ref.position_id, "role": ref.role}


def _order_message(event: ev.Event, tracing: dict[str, object], at: datetime) -> Message:
    if isinstance(event, ev.Accepted):
        return OrderAccepted(**_common(event.ref, tracing, at), order=event.spec,
                             parent_order_id=event.ref.parent_order_id)
    if isinstance(event, ev.Rejected):
        return OrderRejected(**_common(event.ref, tracing, at), reason_code=event.code,
                             message=event.message)
    if isinstance(event, ev.Filled):
        fill = Fill(fill_id=fill_id(event), price=event.price, quantity=event.quantity,
                    fee=event.fee, fee_asset=event.fee_asset, liquidity=event.liquidity,
                    filled_at=event.at)
        cls = OrderFilled if event.complete else OrderPartiallyFilled
        return cls(**_common(event.ref, tracing, event.at), side=event.side, fill=fill,
                   cumulative_quantity=event.cumulative, average_price=event.average,
                   remaining_quantity=event.remaining)
    if isinstance(event, ev.Canceled):
        return OrderCanceled(**_common(event.ref, tracing, at), reason=event.reason,
                             remaining_quantity=event.remaining)
    if isinstance(event, ev.Expired):
        return OrderExpired(**_common(event.ref, tracing, at), reason=event.reason,
                            remaining_quantity=event.remaining)
    if isinstance(event, ev.Replaced):
        return OrderReplaced(**_common(event.ref, tracing, at), order=event.spec)
    raise TypeError(f"no message for {event!r}")


def snapshot(ex: Exchange, account_id: str, tracing: dict[str, object],
             at: datetime) -> BalanceSnapshot:
    account = ex.accounts[account_id]
    rows = balances(account)
    return BalanceSnapshot(
        **tracing, occurred_at=at, tenant_id=account.tenant_id, account_id=account_id, mode=PAPER,
        balances=tuple(AssetBalance(asset=a, free=max(free, 0), locked=locked)
                       for a, free, locked, _ in rows),
        equity=equity(account, ex.markets, rows=rows),
    )
