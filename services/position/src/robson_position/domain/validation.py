"""The validation layer: every violated constraint of a modification, never just the first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from robson_contracts import (
    Modification,
    ModificationKind,
    PositionSide,
    PositionStatus,
    TriggeredBy,
    Violation,
)

from robson_position.domain import pnl
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position


@dataclass(frozen=True)
class Request:
    modification: Modification
    triggered_by: TriggeredBy
    override_manual: bool
    at: datetime
    price: Decimal | None
    """Current market price; the position's last mark when no fresher one is known."""


def violation(name: str, current: object, required: str, message: str) -> Violation:
    return Violation(name=name, current_value="" if current is None else str(current),
                     required_value=required, message=message)


def target_stop(position: Position, mod: Modification) -> Decimal | None:
    """The stop a MOVE_SL/TRAIL_SL asks for (TRAIL_SL: trail_percent from the best price)."""
    s = position.s
    if mod.kind is ModificationKind.MOVE_SL:
        return mod.new_value
    if mod.trail_percent is None:
        return mod.new_value
    best = s.best_price or s.last_price or s.entry_price
    if best is None:
        return None
    k = mod.trail_percent / 100
    return best * (1 - k) if s.side is PositionSide.LONG else best * (1 + k)


def validate(position: Position, req: Request, policy: ManagementPolicy) -> list[Violation]:
    s = position.s
    out: list[Violation] = []
    if s.status not in (PositionStatus.OPEN, PositionStatus.PARTIALLY_CLOSED):
        out.append(violation("POSITION_NOT_OPEN", s.status.value, "OPEN or PARTIALLY_CLOSED",
                             "only an open position can be modified"))
    if req.triggered_by is not TriggeredBy.USER_MANUAL and s.last_modified_at is not None:
        elapsed = (req.at - s.last_modified_at).total_seconds()
        trailing = req.modification.kind is ModificationKind.TRAIL_SL and \
            req.triggered_by is TriggeredBy.RULE_ENGINE
        interval = policy.trailing_interval_seconds if trailing else policy.modification_interval_seconds
        if elapsed < interval:
            out.append(violation("RATE_LIMITED", f"{int(elapsed)}s", f">= {interval}s",
                                 "one modification per interval unless USER_MANUAL"))
    price = req.price or s.last_price
    kind = req.modification.kind
    if kind in (ModificationKind.MOVE_SL, ModificationKind.TRAIL_SL):
        out += _stop_checks(position, req, price, policy)
    else:
        out += _take_profit_checks(position, req, price, policy)
    return out


def _stop_checks(position: Position, req: Request, price: Decimal | None,
                 policy: ManagementPolicy) -> list[Violation]:
    s = position.s
    out: list[Violation] = []
    new = target_stop(position, req.modification)
    if new is None or new <= 0:
        return [violation("STOP_MISSING", new, "a positive price", "no stop price given")]
    long = s.side is PositionSide.LONG
    if s.manual_stop and req.triggered_by is not TriggeredBy.USER_MANUAL and not req.override_manual:
        out.append(violation("MANUAL_STOP_PROTECTED", s.stop_loss, "override_manual=true",
                             "a user's manual stop is not replaced without the explicit flag"))
    if s.stop_loss is not None and (new < s.stop_loss if long else new > s.stop_loss):
        out.append(violation("STOP_INCREASES_RISK", new, f"{'>=' if long else '<='} {s.stop_loss}",
                             "a stop may only move toward profit"))
    entry = s.entry_price
    if entry is not None and position.stop_at_or_beyond_breakeven() and position.in_profit(price) \
            and (new < entry if long else new > entry):
        out.append(violation("STOP_BEHIND_BREAKEVEN", new, f"{'>=' if long else '<='} {entry}",
                             "once in profit the stop never moves away from breakeven"))
    if price is None:
        out.append(violation("NO_MARKET_PRICE", None, "a known price", "no price seen for the symbol"))
        return out
    if (long and new >= price) or (not long and new <= price):
        out.append(violation("STOP_WRONG_SIDE", new, f"{'<' if long else '>'} {price}",
                             "the stop must be on the losing side of the current price"))
    distance = abs(price - new) / price * 100
    if distance < policy.min_stop_distance_pct:
        out.append(violation("STOP_TOO_CLOSE", f"{distance:.4f}%", f">= {policy.min_stop_distance_pct}%",
                             "the stop must keep a minimum distance from the price"))
    return out


def _take_profit_checks(position: Position, req: Request, price: Decimal | None,
                        policy: ManagementPolicy) -> list[Violation]:
    s = position.s
    mod = req.modification
    out: list[Violation] = []
    live = [i for i, tp in enumerate(s.take_profits) if tp.live]
    if mod.kind in (ModificationKind.MODIFY_TP, ModificationKind.CANCEL_TP) and mod.tp_index not in live:
        out.append(violation("TP_INDEX_INVALID", mod.tp_index, f"one of {live}",
                             "no live take-profit at that index"))
    if mod.kind is ModificationKind.CANCEL_TP:
        return out
    if mod.kind is ModificationKind.ADD_TP:
        # fractions are of the entered quantity (the layout's shares): a filled level used its own
        used = sum((tp.fraction for tp in s.take_profits if not tp.canceled), Decimal(0))
        if mod.fraction is None or used + mod.fraction > 1:
            out.append(violation("TP_FRACTION_UNAVAILABLE", mod.fraction, f"<= {1 - used}",
                                 "take-profit fractions may not exceed the position"))
    tp = mod.new_value
    if tp is None or tp <= 0:
        return [*out, violation("TP_MISSING", tp, "a positive price", "no take-profit price given")]
    long = s.side is PositionSide.LONG
    if price is not None and (tp <= price if long else tp >= price):
        out.append(violation("TP_WOULD_FILL_NOW", tp, f"{'>' if long else '<'} {price}",
                             "a take-profit must be beyond the current price"))
    if s.entry_price is not None:
        gain = pnl.pct_move(s.side, s.entry_price, tp)
        fees = 2 * policy.fee_rate * 100
        if gain <= fees:
            out.append(violation("TP_BELOW_FEES", f"{gain:.4f}%", f"> {fees}%",
                                 "a take-profit must be worth more than round-trip fees"))
    return out
