"""Order events built from our order records: the same contract `paper` speaks."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_contracts import (
    Fill,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderReplaced,
    OrderSpec,
    TradingMode,
    derive_id,
)


def _common(row: Any, kind: str, *key: object) -> dict[str, Any]:
    return {
        "message_id": derive_id("execution", kind, row.client_order_id, *key),
        "correlation_id": uuid.UUID(row.correlation_id),
        "causation_id": uuid.UUID(row.causation_id),
        "account_id": row.account_id,
        "venue": TradingMode.LIVE,
        "order_id": row.order_id,
        "symbol": row.symbol,
        "list_id": row.list_id,
        "position_id": row.position_id,
        "role": row.role,
    }


def spec_of(row: Any) -> OrderSpec:
    return OrderSpec.model_validate(row.spec)


def accepted(row: Any, at: datetime) -> OrderAccepted:
    return OrderAccepted(**_common(row, "accepted"), occurred_at=at, order=spec_of(row),
                         parent_order_id=row.parent_order_id)


def replaced(row: Any, old_order_id: str, at: datetime) -> OrderReplaced:
    common = _common(row, "replaced") | {"order_id": old_order_id}
    return OrderReplaced(**common, occurred_at=at, order=spec_of(row))


def rejected(row: Any, reason_code: str, message: str, at: datetime) -> OrderRejected:
    return OrderRejected(**_common(row, "rejected"), occurred_at=at, reason_code=reason_code,
                         message=message[:500])


def canceled(row: Any, reason: str, remaining: Decimal, at: datetime) -> OrderCanceled | OrderExpired:
    if reason == "EXPIRED":
        return OrderExpired(**_common(row, "expired"), occurred_at=at, reason=reason,
                            remaining_quantity=remaining)
    return OrderCanceled(**_common(row, "canceled"), occurred_at=at, reason=reason,
                         remaining_quantity=remaining)


def filled(row: Any, trade_id: int, price: Decimal, qty: Decimal, fee: Decimal, fee_asset: str,
           maker: bool, at: datetime, cumulative: Decimal, quote: Decimal,
           fee_quote: Decimal | None = None) -> OrderFilled | OrderPartiallyFilled:
    spec = spec_of(row)
    remaining = max(Decimal(0), spec.quantity - cumulative)
    cls = OrderFilled if remaining == 0 else OrderPartiallyFilled
    fill = Fill(fill_id=f"{row.symbol}-{trade_id}", price=price, quantity=qty, fee=fee,
                fee_asset=fee_asset, liquidity=Liquidity.MAKER if maker else Liquidity.TAKER,
                filled_at=at, fee_quote=fee_quote)
    return cls(**_common(row, "fill", trade_id), occurred_at=at, side=spec.side, fill=fill,
               cumulative_quantity=cumulative, average_price=(quote / cumulative).normalize(),
               remaining_quantity=remaining)
