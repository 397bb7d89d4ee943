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


def evaluate(position: Position, policy: ManagementPolicy, now: datetime,
             atr: Decimal | None = None) -> RuleAction | None:
    """What the policy wants after the latest mark; None when nothing. One action per candle:
    a time exit beats stop moves, the tighter of breakeven and trailing wins (of those on the
    losing side of the last price by the minimum distance, when either is)."""
    s = position.s
    entry = s.entry_price
    if entry is None or not s.holds or s.status.value == "CLOSING" \
            or acts_on_no_candle(policy, s.trail_percent):
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
    trail = _trail(position, policy, best_move, now, atr)
    if trail is not None:
        candidates.append(trail)
    if not candidates:
        return None
    ordered = sorted(candidates, reverse=True,
                     key=lambda m: m.new_value * (1 if s.side is PositionSide.LONG else -1))
    # The tightest the validation layer can take at the last price: a trail measured from a
    # wick's best can sit beyond the close (STOP_WRONG_SIDE), and refused on every candle while
    # that best stands it would otherwise keep a valid breakeven from ever being applied.
    placeable = [m for m in ordered if _placeable(s.side, m.new_value, s.last_price, policy)]
    return RuleAction(modification=(placeable or ordered)[0])


def acts_on_no_candle(policy: ManagementPolicy, trail_percent: Decimal | None) -> bool:
    """``evaluate`` returns None for a position under ``policy`` (whose trail, set by a
    TRAIL_SL, is ``trail_percent``) whatever its prices and the time: no time exit, no
    breakeven, no trail. A backtest may then hold back such a position's quiet candles and
    hand them over together (their marks are all they change)."""
    return (policy.time_exit_minutes is None and policy.breakeven_trigger_pct is None
            and policy.trailing_pct is None and policy.trailing_atr_multiple is None
            and trail_percent is None)


def _placeable(side: PositionSide, stop: Decimal | None, price: Decimal | None,
               policy: ManagementPolicy) -> bool:
    """On the losing side of ``price`` by at least the minimum distance (``validation``)."""
    if price is None or stop is None:
        return True
    return _better(side, price, stop) and abs(price - stop) / price * 100 >= policy.min_stop_distance_pct


def _trail(position: Position, policy: ManagementPolicy, best_move: Decimal, now: datetime,
           atr: Decimal | None) -> Modification | None:
    """The stop follows the best price by ATRs (when configured and known) or by a percent
    (the policy's, or the one a TRAIL_SL set); only ever tightening, by at least the minimum
    step, at most once per interval (so the venue is not flooded with replacements)."""
    s = position.s
    if not s.best_price:
        return None
    by_policy = policy.trailing_pct is not None or policy.trailing_atr_multiple is not None
    if by_policy and best_move < policy.trailing_activation_pct:
        return None
    percent = policy.trailing_pct if policy.trailing_pct is not None else s.trail_percent
    if policy.trailing_atr_multiple is not None and atr is not None:
        distance, percent = atr * policy.trailing_atr_multiple, None
        how = f"{policy.trailing_atr_multiple} ATR ({atr})"
    elif percent is not None:
        distance, how = s.best_price * percent / 100, f"{percent}%"
    else:
        return None
    long = s.side is PositionSide.LONG
    trail = s.best_price - distance if long else s.best_price + distance
    if not _better(s.side, trail, s.stop_loss):
        return None
    price = s.last_price or s.best_price
    if s.stop_loss is not None and abs(trail - s.stop_loss) / price * 100 < policy.trailing_min_step_pct:
        return None
    if s.last_trailed_at is not None and \
            (now - s.last_trailed_at).total_seconds() < policy.trailing_interval_seconds:
        return None
    return Modification(kind=ModificationKind.TRAIL_SL, previous_value=s.stop_loss, new_value=trail,
                        trail_percent=percent, reason=f"trailing {how} from {s.best_price}")


def trailing_stop(side: PositionSide, best: Decimal, percent: Decimal) -> Decimal:
    k = percent / 100
    return best * (1 - k) if side is PositionSide.LONG else best * (1 + k)


def _better(side: PositionSide, candidate: Decimal, current: Decimal | None) -> bool:
    if current is None:
        return True
    return candidate > current if side is PositionSide.LONG else candidate < current
