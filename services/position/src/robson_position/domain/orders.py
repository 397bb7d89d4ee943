"""Order ids and protective-order layout. Ids are ≤ 36 chars (Binance clientOrderId) and derived
from the position id, so a replay issues the same ids."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from robson_contracts import derive_id

from robson_position.domain.lots import LotRules, fit_split
from robson_position.domain.state import ZERO, OrderKind, PositionState, TrackedOrder

QTY_STEP = Decimal("0.00000001")


def position_id_for(gate_decision_id: str) -> str:
    return "p" + derive_id("position", gate_decision_id).hex[:20]


def order_id(position_id: str, generation: int, tag: str) -> str:
    return f"{position_id}-{generation}{tag}"


def generation_of(order_id_: str) -> str:
    """The generation an ``order_id`` was placed under ("" for an id not of that form)."""
    tail = order_id_.rsplit("-", 1)[-1]
    return tail[:len(tail) - len(tail.lstrip("0123456789"))]


def split_quantity(total: Decimal, fractions: list[Decimal]) -> tuple[list[Decimal], Decimal]:
    """Quantities for each take-profit fraction (rounded down to the step) and the rest."""
    parts = [(total * f).quantize(QTY_STEP, rounding=ROUND_DOWN) for f in fractions]
    return parts, total - sum(parts, ZERO)


def live_orders(state: PositionState, kind: OrderKind | None = None) -> list[TrackedOrder]:
    return [o for o in state.orders.values() if o.live and (kind is None or o.kind is kind)]


def exiting(state: PositionState) -> Decimal:
    """What the live exits are selling (at market) of what is held."""
    return sum((o.quantity for o in live_orders(state, OrderKind.EXIT)), ZERO)


def protective_layout(state: PositionState, quantity: Decimal,
                      rules: LotRules | None = None) -> list[TrackedOrder]:
    """Protection for ``quantity``: one OCO (TP + stop) per live take-profit on its share,
    the rest under a stop alone. Take-profit shares scale down when less is held; when they
    cover all of it, the last level takes what rounding the others down left (a stop alone
    for that dust would be below any venue's step: refused, the dust unprotected).

    With the venue's ``rules`` for the symbol, every quantity is on its step (the stops cover
    ``quantity`` cut down to the step) and a level the venue would refuse as too small is
    folded into another (``lots.fit_split``); without them, shares are cut to 1e-8."""
    gen = state.order_generation
    pid = state.position_id
    live = [(i, tp) for i, tp in enumerate(state.take_profits) if tp.live]
    shares = [tp.fraction * state.entry_quantity for _, tp in live]
    wanted = sum(shares, ZERO)
    scale = min(Decimal(1), quantity / wanted) if wanted else Decimal(1)
    fractions = [s * scale / quantity for s in shares] if quantity else []
    fitted = None
    if rules is not None and state.stop_loss is not None:
        fitted = fit_split(quantity, fractions, wanted >= quantity, rules,
                           [tp.price for _, tp in live], state.stop_loss)
    if fitted is not None:
        parts, rest = fitted
    else:
        parts, rest = split_quantity(quantity, fractions)
        if parts and wanted >= quantity:
            parts[-1], rest = parts[-1] + rest, ZERO
    out: list[TrackedOrder] = []
    for (i, tp), qty in zip(live, parts, strict=True):
        if qty <= 0:
            continue
        list_id = order_id(pid, gen, f"L{i}")
        out.append(TrackedOrder(order_id=order_id(pid, gen, f"T{i}"), kind=OrderKind.TP, quantity=qty,
                                price=tp.price, tp_index=i, list_id=list_id))
        out.append(TrackedOrder(order_id=order_id(pid, gen, f"S{i}"), kind=OrderKind.STOP, quantity=qty,
                                price=state.stop_loss, tp_index=i, list_id=list_id))
    if rest > 0:
        out.append(TrackedOrder(order_id=order_id(pid, gen, "S"), kind=OrderKind.STOP, quantity=rest,
                                price=state.stop_loss))
    return out
