"""Re-sync of one position with what its venue says (after downtime, or on request).

Whatever the venue knows and the position missed becomes the order event the venue would have
published, applied through the normal event path (``on_order_event``). Event ids derive from the
venue's ids and fills are keyed by fill id, so a re-sync and a later redelivery of the real
event count every fill once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_contracts import (
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderRole,
    PositionStatus,
    derive_id,
)

from robson_position.domain.lifecycle import on_order_event
from robson_position.domain.management import reprotect
from robson_position.domain.position import Position
from robson_position.domain.state import OrderKind
from robson_position.domain.venueview import VenueFill, VenueOrder, VenueView


@dataclass(frozen=True)
class Finding:
    """One difference between the position and its venue, and what was done about it."""

    kind: str
    order_id: str | None
    detail: str
    applied: bool
    event: OrderEvent | None = None
    fill: Fill | None = None


def catch_up(position: Position, view: VenueView, at: datetime) -> list[Finding]:
    """Bring ``position`` in line with ``view``; ``at`` stamps what has no venue time."""
    if not position.s.is_active:
        return []
    sync = _Sync(position, view, at)
    sync.confirm_orders()
    sync.missed_fills()
    sync.ended_orders()
    sync.missing_orders()
    sync.protect()
    return sync.findings


class _Sync:
    def __init__(self, position: Position, view: VenueView, at: datetime) -> None:
        self.p = position
        self.s = position.s
        self.view = view
        self.at = at
        self.findings: list[Finding] = []

    def _base(self, kind: str, order: VenueOrder | None, order_id: str, key: Any,
              at: datetime) -> dict[str, Any]:
        return {"message_id": derive_id("resync", kind, self.s.position_id, order_id, key),
                "occurred_at": at, "account_id": self.s.account_id, "venue": self.s.venue,
                "order_id": order_id, "symbol": self.s.symbol, "position_id": self.s.position_id,
                "list_id": order.list_id if order else None, "role": order.role if order else None}

    def _apply(self, kind: str, event: OrderEvent, detail: str, fill: Fill | None = None) -> None:
        on_order_event(self.p, event, event.occurred_at)
        self.findings.append(Finding(kind, event.order_id, detail, True, event, fill))

    def confirm_orders(self) -> None:
        """Orders the venue holds that the position never heard accepted (or never heard of)."""
        for vo in self.view.orders:
            tracked = self.s.orders.get(vo.order_id)
            if tracked is not None and (tracked.accepted or not tracked.live):
                continue
            if tracked is None and not (vo.live or self.view.fills_of(vo.order_id)):
                continue
            kind = "ORDER_CONFIRMED" if tracked else "ORDER_ADOPTED"
            event = OrderAccepted(**self._base(kind, vo, vo.order_id, vo.status, self.at), order=vo.spec)
            self._apply(kind, event, f"{vo.spec.type.value} {vo.spec.quantity} is {vo.status} at the venue")

    def missed_fills(self) -> None:
        entries_first = sorted(
            enumerate(self.view.fills),
            key=lambda item: (item[1].filled_at, 0 if self._is_entry(item[1].order_id) else 1, item[0]))
        for _, vf in entries_first:
            if self.p.seen_fill(vf.fill_id):
                continue
            vo = self.view.order(vf.order_id)
            if vo is None:
                continue  # a fill of an order the venue did not list for this position
            self._apply("MISSED_FILL", self._fill_event(vo, vf),
                        f"{vf.quantity} @ {vf.price} fee {vf.fee} {vf.fee_asset}", self._fill(vf))

    def _is_entry(self, order_id: str) -> bool:
        tracked = self.s.orders.get(order_id)
        vo = self.view.order(order_id)
        return (tracked is not None and tracked.kind is OrderKind.ENTRY) or \
            (vo is not None and vo.role is OrderRole.ENTRY)

    @staticmethod
    def _fill(vf: VenueFill) -> Fill:
        return Fill(fill_id=vf.fill_id, price=vf.price, quantity=vf.quantity, fee=vf.fee,
                    fee_asset=vf.fee_asset, liquidity=vf.liquidity, filled_at=vf.filled_at,
                    fee_quote=vf.fee_quote)

    def _fill_event(self, vo: VenueOrder, vf: VenueFill) -> OrderFilled | OrderPartiallyFilled:
        fills = self.view.fills_of(vo.order_id)
        upto = fills[: fills.index(vf) + 1]
        cumulative = sum((f.quantity for f in upto), Decimal(0))
        notional = sum((f.price * f.quantity for f in upto), Decimal(0))
        last = vf is fills[-1] and (vo.status == "FILLED" or cumulative >= vo.spec.quantity)
        cls = OrderFilled if last else OrderPartiallyFilled
        return cls(**self._base("fill", vo, vo.order_id, vf.fill_id, vf.filled_at), side=vo.spec.side,
                   fill=self._fill(vf), cumulative_quantity=cumulative,
                   average_price=notional / cumulative,
                   remaining_quantity=max(vo.spec.quantity - cumulative, Decimal(0)))

    def ended_orders(self) -> None:
        for vo in self.view.orders:
            tracked = self.s.orders.get(vo.order_id)
            if vo.live or tracked is None or not tracked.live:
                continue
            when = vo.updated_at or self.at
            base = self._base(vo.status, vo, vo.order_id, vo.status, when)
            remaining = max(vo.spec.quantity - vo.filled_qty, Decimal(0))
            event: OrderEvent
            if vo.status == "CANCELED":
                event = OrderCanceled(**base, reason="CANCELED_AT_VENUE", remaining_quantity=remaining)
            elif vo.status == "EXPIRED":
                event = OrderExpired(**base, reason="EXPIRED_AT_VENUE", remaining_quantity=remaining)
            elif vo.status == "REJECTED":
                event = OrderRejected(**base, reason_code="VENUE_REJECTED", message="rejected at the venue")
            else:  # FILLED, every fill already counted: only the flag was missed
                tracked.live = False
                self.findings.append(Finding("ORDER_FILLED", vo.order_id, "filled at the venue", True))
                continue
            self._apply(f"ORDER_{vo.status}", event, f"{vo.status} at the venue, {remaining} unfilled")

    def missing_orders(self) -> None:
        known = {vo.order_id for vo in self.view.orders}
        for tracked in [o for o in self.s.orders.values() if o.live and o.order_id not in known]:
            if not self.s.is_active:
                return
            if tracked.accepted:
                base = self._base("MISSING", None, tracked.order_id, "missing", self.at)
                event = OrderCanceled(**base, reason="MISSING_AT_VENUE", remaining_quantity=tracked.quantity)
                self._apply("ORDER_MISSING", event, "accepted once, the venue no longer has it")
            elif tracked.quantity > 0:  # its command may still be on its way
                self.findings.append(Finding("NOT_AT_VENUE", tracked.order_id,
                                             "not (yet) at the venue; left as is", False))

    def protect(self) -> None:
        """A position that still holds but lost every stop gets its protection placed again."""
        s = self.s
        events = [f.event for f in self.findings if f.event is not None]
        if not events or not s.holds or s.status is PositionStatus.CLOSING:
            return
        if any(o.live and o.kind is OrderKind.STOP for o in s.orders.values()):
            return
        s.order_generation += 1
        reprotect(self.p, s.remaining, events[-1], self.at)
        self.findings.append(Finding("REPROTECTED", None,
                                     f"no live stop for {s.remaining}: stop {s.stop_loss} placed again",
                                     True, events[-1]))
