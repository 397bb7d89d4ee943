"""Reconciliation rules: what to do with each difference between our records and Binance.

Rules (pure; the service applies the decisions):

1. Our order, unknown outcome (PENDING on our side) and the venue has it → ADOPTED: take the
   venue's status and fills as the truth.
2. Our order, PENDING and the venue confirms it absent → APPLIED: released for submission
   (the only case where an order is (re)sent).
3. Our open order, the venue shows more filled quantity → MISSED_FILL, APPLIED (fills applied
   once each, from the venue's trade list).
4. Our open order, canceled/expired/rejected on the venue → CANCELED_ON_VENUE, APPLIED.
5. Open on the venue with our client-id prefix but unknown to us → UNKNOWN_ORDER, CANCELED (we
   cannot know what it protects; an unowned live order is the bigger risk).
6. Open on the venue without our prefix (placed by a human) → UNKNOWN_ORDER, FLAGGED, untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from robson_contracts import FINAL_ORDER_STATUSES

from robson_execution.domain.ids import is_ours


@dataclass(frozen=True)
class LocalOrder:
    client_order_id: str
    symbol: str
    status: str
    filled_qty: Decimal


@dataclass(frozen=True)
class VenueOrder:
    client_order_id: str
    symbol: str
    status: str
    executed_qty: Decimal


@dataclass(frozen=True)
class Decision:
    kind: str
    action: str
    client_order_id: str
    symbol: str
    detail: str = ""


def judge_known(local: LocalOrder, venue: VenueOrder | None) -> list[Decision]:
    """Rules 1–4 for one of our non-final orders, given the venue's view (None: absent)."""
    cid, sym = local.client_order_id, local.symbol
    if local.status == "PENDING":
        if venue is None:
            return [Decision("PENDING_ABSENT", "APPLIED", cid, sym, "confirmed absent; released for submission")]
        out = [Decision("ORDER_FOUND_ON_VENUE", "ADOPTED", cid, sym, f"venue status {venue.status}")]
        return out + _progress(local, venue)
    if venue is None:
        return [Decision("ORDER_MISSING_ON_VENUE", "FLAGGED", cid, sym, "venue does not know this order")]
    return _progress(local, venue)


def _progress(local: LocalOrder, venue: VenueOrder) -> list[Decision]:
    cid, sym = local.client_order_id, local.symbol
    out: list[Decision] = []
    if venue.executed_qty > local.filled_qty:
        out.append(Decision("MISSED_FILL", "APPLIED", cid, sym,
                            f"venue filled {venue.executed_qty}, we had {local.filled_qty}"))
    if venue.status in {"CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"}:
        out.append(Decision("CANCELED_ON_VENUE", "APPLIED", cid, sym, f"venue status {venue.status}"))
    return out


def judge_unknown(venue: VenueOrder) -> Decision:
    """Rules 5–6 for an order open on the venue that we have no record of."""
    if is_ours(venue.client_order_id):
        return Decision("UNKNOWN_ORDER", "CANCELED", venue.client_order_id, venue.symbol,
                        "carries our id prefix but has no record; canceled")
    return Decision("UNKNOWN_ORDER", "FLAGGED", venue.client_order_id, venue.symbol,
                    "not placed by robson; left untouched")


def reconcile(local: list[LocalOrder], queried: dict[str, VenueOrder | None],
              open_on_venue: list[VenueOrder]) -> list[Decision]:
    """All decisions for one account. ``queried`` holds the venue's answer for every local
    non-final order (None = confirmed absent)."""
    decisions: list[Decision] = []
    known = {o.client_order_id for o in local}
    for order in local:
        if order.status in FINAL_ORDER_STATUSES:
            continue
        decisions.extend(judge_known(order, queried.get(order.client_order_id)))
    for venue in open_on_venue:
        if venue.client_order_id not in known:
            decisions.append(judge_unknown(venue))
    return decisions
