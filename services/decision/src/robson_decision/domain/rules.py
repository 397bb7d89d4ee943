"""The rules engine: deterministic, embedded, always available.

Entries follow the signal's direction above a strength threshold, with the stop at k × ATR,
beyond the last swing or a fixed percent, and take-profits at R multiples or fixed percents. Open positions get breakeven and
trailing suggestions, and exits on an opposite signal or after a maximum holding time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from robson_contracts import DecisionKind, ModificationKind, SignalDirection
from robson_contracts.types import PositionSide

from robson_decision.domain import indicators
from robson_decision.domain.context import DecisionContext
from robson_decision.domain.proposal import Proposal, ProposedModification, ProposedTakeProfit
from robson_decision.domain.settings import StopMode, TraderSettings

ONE = Decimal(1)


@dataclass(frozen=True)
class RuleAnswer:
    proposal: Proposal
    reason_code: str | None = None
    """Why there is no trade (WEAK_SIGNAL, NEUTRAL_SIGNAL, POSITION_ALREADY_OPEN)."""


def decide(ctx: DecisionContext, s: TraderSettings) -> RuleAnswer | None:
    """Entry question when ``ctx.signal`` is set, else a position review (None: nothing to do)."""
    return decide_entry(ctx, s) if ctx.signal is not None else review(ctx, s)


def decide_entry(ctx: DecisionContext, s: TraderSettings) -> RuleAnswer:
    signal = ctx.signal
    assert signal is not None
    if signal.direction is SignalDirection.NEUTRAL:
        return _no_trade(signal.strength, "NEUTRAL_SIGNAL", "signal has no direction")
    if ctx.position is not None:
        return _with_position(ctx, s)
    if signal.strength < s.min_strength:
        return _no_trade(
            signal.strength,
            "WEAK_SIGNAL",
            f"signal strength {signal.strength} below threshold {s.min_strength}",
        )
    side = PositionSide(signal.direction.value)
    entry = signal.price
    stop, how = stop_for(ctx, s, side, entry)
    risk = abs(entry - stop)
    sign = ONE if side is PositionSide.LONG else -ONE
    if s.tp_pcts is not None:
        tps = tuple(
            ProposedTakeProfit(price=_round(entry + sign * entry * pct / 100, entry), fraction=f)
            for pct, f in zip(s.tp_pcts, s.tp_fractions, strict=True)
        )
        levels = ", ".join(f"{pct}%" for pct in s.tp_pcts)
    else:
        tps = tuple(
            ProposedTakeProfit(price=_round(entry + sign * r * risk, entry), fraction=f)
            for r, f in zip(s.tp_r_multiples, s.tp_fractions, strict=True)
        )
        levels = ", ".join(f"{r}R" for r in s.tp_r_multiples)
    reasoning = (
        f"{signal.strategy} {signal.direction.value} signal, strength {signal.strength} "
        f">= {s.min_strength}; stop {how}; take-profits at {levels}; "
        f"{ctx.performance.summary()}"
    )
    return RuleAnswer(
        Proposal(
            decision=DecisionKind(side.value),
            confidence=signal.strength,
            reasoning=reasoning,
            entry_price=entry,
            stop_loss=stop,
            take_profits=tps,
        )
    )


def stop_for(
    ctx: DecisionContext, s: TraderSettings, side: PositionSide, entry: Decimal
) -> tuple[Decimal, str]:
    long = side is PositionSide.LONG
    if s.stop_mode is StopMode.PERCENT and s.stop_pct is not None:
        distance = entry * s.stop_pct / 100
        stop = _round(entry - distance if long else entry + distance, entry)
        return stop, f"{s.stop_pct}% from the entry"
    if s.stop_mode is StopMode.SWING:
        swing = (indicators.swing_low if long else indicators.swing_high)(
            ctx.bars, s.swing_lookback
        )
        if swing is not None and (swing < entry if long else swing > entry):
            return swing, f"beyond the last swing {'low' if long else 'high'} {swing}"
    else:
        value = indicators.atr(ctx.bars, s.atr_period)
        if value is not None and value > 0:
            distance = s.atr_k * value
            if distance < entry:
                stop = _round(entry - distance if long else entry + distance, entry)
                return stop, f"{s.atr_k} x ATR({s.atr_period}) = {_round(distance, entry)}"
    distance = entry * s.fallback_stop_pct / 100
    stop = _round(entry - distance if long else entry + distance, entry)
    return stop, f"{s.fallback_stop_pct}% (not enough candles for {s.stop_mode.value})"


def _with_position(ctx: DecisionContext, s: TraderSettings) -> RuleAnswer:
    signal, position = ctx.signal, ctx.position
    assert signal is not None and position is not None
    opposite = signal.direction.value != position.side.value
    if (
        opposite
        and s.exit_on_opposite_strength is not None
        and signal.strength >= s.exit_on_opposite_strength
    ):
        return RuleAnswer(
            Proposal(
                decision=DecisionKind.CLOSE,
                confidence=signal.strength,
                reasoning=(
                    f"opposite {signal.direction.value} signal, strength {signal.strength} "
                    f">= {s.exit_on_opposite_strength}: close {position.side.value} position "
                    f"at {position.pnl_pct(ctx.price):+.2f}%"
                ),
            )
        )
    return _no_trade(
        signal.strength,
        "POSITION_ALREADY_OPEN",
        f"{position.side.value} position {position.position_id} already open",
    )


def reviews_nothing(s: TraderSettings) -> bool:
    """``review`` can only answer with a time exit, a trail or a breakeven: none is set."""
    return s.max_holding_candles is None and s.trail_at_r is None and s.breakeven_at_r is None


def review(ctx: DecisionContext, s: TraderSettings) -> RuleAnswer | None:
    position = ctx.position
    if position is None:
        return None
    held = ctx.candles_in_trade()
    if s.max_holding_candles is not None and held >= s.max_holding_candles:
        return RuleAnswer(
            Proposal(
                decision=DecisionKind.CLOSE,
                confidence=ONE,
                reasoning=f"held {held} candles >= max {s.max_holding_candles}: time exit at "
                f"{position.pnl_pct(ctx.price):+.2f}%",
            )
        )
    r = position.r_multiple(ctx.price)
    if r is None:
        return None
    mods: list[ProposedModification] = []
    if s.trail_at_r is not None and r >= s.trail_at_r and not position.trailing:
        mods.append(
            ProposedModification(
                kind=ModificationKind.TRAIL_SL,
                trail_percent=s.trail_percent,
                reason=f"position at {r:.2f}R >= {s.trail_at_r}R: trail the stop {s.trail_percent}%",
            )
        )
    elif (
        s.breakeven_at_r is not None
        and r >= s.breakeven_at_r
        and not position.stop_at_or_past_entry()
        and not position.trailing
    ):
        mods.append(
            ProposedModification(
                kind=ModificationKind.MOVE_SL,
                new_value=position.entry_price,
                reason=f"position at {r:.2f}R >= {s.breakeven_at_r}R: stop to breakeven",
            )
        )
    if not mods:
        return None
    return RuleAnswer(
        Proposal(
            decision=DecisionKind.WATCH,
            confidence=ONE,
            modifications=tuple(mods),
            reasoning=f"review at {ctx.price}: {position.pnl_pct(ctx.price):+.2f}%, {r:.2f}R, "
            f"{held} candles in trade; " + "; ".join(m.reason for m in mods),
        )
    )


def _no_trade(confidence: Decimal, code: str, why: str) -> RuleAnswer:
    return RuleAnswer(
        Proposal(decision=DecisionKind.NO_TRADE, confidence=confidence, reasoning=why), code
    )


def _round(value: Decimal, like: Decimal) -> Decimal:
    """Keep two more decimals than the reference price (at most 8)."""
    exponent = like.normalize().as_tuple().exponent
    places = min(8, max(2, (-exponent if isinstance(exponent, int) else 0) + 2))
    return value.quantize(Decimal(1).scaleb(-places))
