"""Rule-based management on a closed candle: breakeven, trailing stop, time exit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from robson_contracts import ExitReason, Modification, ModificationKind, PositionSide

from robson_position.domain import pnl
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position


@dataclass(frozen=True)
class RuleAction:
    modification: Modification | None = None
    close_reason: ExitReason | None = None


def evaluate(position: Position, policy: ManagementPolicy, now: datetime) -> RuleAction | None:
    """What the policy wants after the latest mark; None when nothing. One action per candle:
    a time exit beats stop moves, the tighter of breakeven and trailing wins."""
    s = position.s
    entry = s.entry_price
    if entry is None or not s.holds or s.status.value == "CLOSING":
        return None
    if policy.time_exit_minutes is not None and s.opened_at is not None \
            and (now - s.opened_at).total_seconds() >= policy.time_exit_minutes * 60:
        return RuleAction(close_reason=ExitReason.TIME_EXIT)
    candidates: list[Modification] = []
    best_move = pnl.pct_move(s.side, entry, s.best_price or entry)
    if policy.breakeven_trigger_pct is not None and best_move >= policy.breakeven_trigger_pct:
        k = policy.breakeven_offset_pct / 100
        be = entry * (1 + k) if s.side is PositionSide.LONG else entry * (1 - k)
        if _better(s.side, be, s.stop_loss):
            candidates.append(Modification(kind=ModificationKind.MOVE_SL, previous_value=s.stop_loss,
                                           new_value=be, reason=f"breakeven at +{policy.breakeven_trigger_pct}%"))
    if policy.trailing_pct is not None and best_move >= policy.trailing_activation_pct and s.best_price:
        trail = trailing_stop(s.side, s.best_price, policy.trailing_pct)
        if _better(s.side, trail, s.stop_loss):
            candidates.append(Modification(kind=ModificationKind.TRAIL_SL, previous_value=s.stop_loss,
                                           new_value=trail, trail_percent=policy.trailing_pct,
                                           reason=f"trailing {policy.trailing_pct}% from {s.best_price}"))
    if not candidates:
        return None
    tightest = max(candidates, key=lambda m: m.new_value * (1 if s.side is PositionSide.LONG else -1))
    return RuleAction(modification=tightest)


def trailing_stop(side: PositionSide, best: Decimal, percent: Decimal) -> Decimal:
    k = percent / 100
    return best * (1 - k) if side is PositionSide.LONG else best * (1 + k)


def _better(side: PositionSide, candidate: Decimal, current: Decimal | None) -> bool:
    if current is None:
        return True
    return candidate > current if side is PositionSide.LONG else candidate < current
