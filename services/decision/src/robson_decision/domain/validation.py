"""The validation layer: nothing an engine says is published unless it makes sense.

Returns the list of violations (empty: valid). Checks: prices positive and on the right side
of the entry, stop distance within bounds, confidence in 0..1, take-profit fractions sum ≤ 1,
management (CLOSE, PARTIAL_TP, modifications) only with an open position, and modifications
that never increase risk.
"""

from __future__ import annotations

from decimal import Decimal

from robson_contracts import DecisionKind, ModificationKind
from robson_contracts.types import PositionSide, decimal_problem

from robson_decision.domain.context import DecisionContext, OpenPosition
from robson_decision.domain.proposal import Proposal, ProposedModification
from robson_decision.domain.settings import TraderSettings

ZERO, ONE, HUNDRED = Decimal(0), Decimal(1), Decimal(100)


def validate(p: Proposal, ctx: DecisionContext, s: TraderSettings) -> list[str]:
    problems = _out_of_range(p)
    if problems:  # no arithmetic on them (1e999999999 overflows), no TradeDecision can carry them
        return problems
    if not ZERO <= p.confidence <= ONE:
        problems.append(f"confidence {p.confidence} is outside 0..1")
    if p.decision.is_entry:
        problems += _entry(p, ctx, s)
    elif p.take_profits or p.stop_loss is not None:
        problems.append(f"{p.decision.value} carries a stop or take-profits")
    manages = p.decision in (DecisionKind.CLOSE, DecisionKind.PARTIAL_TP) or p.modifications
    if manages and ctx.position is None:
        problems.append(
            f"{p.decision.value} with modifications or exits needs an open position "
            f"on {ctx.symbol}, and there is none"
        )
        return problems
    if p.decision is DecisionKind.PARTIAL_TP and not (
        p.close_fraction is not None and ZERO < p.close_fraction < ONE
    ):
        problems.append(f"PARTIAL_TP close_fraction {p.close_fraction} must be in (0, 1)")
    if p.decision is not DecisionKind.PARTIAL_TP and p.close_fraction is not None:
        problems.append("close_fraction is only for PARTIAL_TP")
    if p.modifications and p.decision not in (DecisionKind.WATCH, DecisionKind.PARTIAL_TP):
        problems.append(f"modifications go with WATCH or PARTIAL_TP, not {p.decision.value}")
    for i, mod in enumerate(p.modifications):
        assert ctx.position is not None
        problems += [
            f"modification {i} ({mod.kind.value}): {m}"
            for m in _modification(mod, ctx.position, ctx.price, s)
        ]
    return problems


def _entry(p: Proposal, ctx: DecisionContext, s: TraderSettings) -> list[str]:
    problems: list[str] = []
    if ctx.position is not None:
        problems.append(f"entry while position {ctx.position.position_id} is open on {ctx.symbol}")
    long = p.decision is DecisionKind.LONG
    entry = p.entry_price if p.entry_price is not None else ctx.price
    if entry <= 0:
        return [*problems, f"entry price {entry} must be positive"]
    drift = abs(entry - ctx.price) / ctx.price * HUNDRED
    if drift > s.max_stop_pct:
        problems.append(f"entry price {entry} is {drift:.2f}% from the market {ctx.price}")
    if p.stop_loss is None:
        problems.append("an entry needs a stop_loss")
    elif p.stop_loss <= 0:
        problems.append(f"stop_loss {p.stop_loss} must be positive")
    else:
        if (p.stop_loss >= entry) if long else (p.stop_loss <= entry):
            problems.append(
                f"{p.decision.value} stop_loss {p.stop_loss} must be "
                f"{'below' if long else 'above'} the entry {entry}"
            )
        elif entry != ctx.price and ((p.stop_loss >= ctx.price) if long else (p.stop_loss <= ctx.price)):
            # The entry goes to the venue as a MARKET order: it fills at the market, not at the
            # stated entry, so a stop on the wrong side of the market triggers at once.
            problems.append(
                f"{p.decision.value} stop_loss {p.stop_loss} must be "
                f"{'below' if long else 'above'} the market price {ctx.price}"
            )
        distance = abs(entry - p.stop_loss) / entry * HUNDRED
        if not s.min_stop_pct <= distance <= s.max_stop_pct:
            problems.append(
                f"stop distance {distance:.2f}% is outside [{s.min_stop_pct}%, {s.max_stop_pct}%]"
            )
    total = ZERO
    for i, tp in enumerate(p.take_profits):
        total += tp.fraction
        if tp.price <= 0:
            problems.append(f"take-profit {i} price {tp.price} must be positive")
        elif (tp.price <= entry) if long else (tp.price >= entry):
            problems.append(
                f"{p.decision.value} take-profit {i} at {tp.price} must be "
                f"{'above' if long else 'below'} the entry {entry}"
            )
        elif (tp.price <= ctx.price) if long else (tp.price >= ctx.price):
            problems.append(
                f"{p.decision.value} take-profit {i} at {tp.price} must be "
                f"{'above' if long else 'below'} the market price {ctx.price} (it would fill at once)"
            )
        if not ZERO < tp.fraction <= ONE:
            problems.append(f"take-profit {i} fraction {tp.fraction} must be in (0, 1]")
    if total > ONE:
        problems.append(f"take-profit fractions sum to {total} > 1")
    return problems


def _modification(
    m: ProposedModification, pos: OpenPosition, price: Decimal, s: TraderSettings
) -> list[str]:
    long = pos.side is PositionSide.LONG
    kind = m.kind
    if kind is ModificationKind.TRAIL_SL:
        ok = m.trail_percent is not None and ZERO < m.trail_percent <= s.max_stop_pct
        return [] if ok else [f"trail_percent {m.trail_percent} must be in (0, {s.max_stop_pct}]"]
    if kind in (ModificationKind.MODIFY_TP, ModificationKind.CANCEL_TP) and not (
        m.tp_index is not None and 0 <= m.tp_index < len(pos.take_profits)
    ):
        return [f"tp_index {m.tp_index} does not name one of {len(pos.take_profits)} take-profits"]
    if kind is ModificationKind.CANCEL_TP:
        return []
    if m.new_value is None or m.new_value <= 0:
        return [f"new_value {m.new_value} must be a positive price"]
    if kind is ModificationKind.MOVE_SL:
        return _stop_move(m.new_value, pos, price, long)
    problems = []
    if (m.new_value <= price) if long else (m.new_value >= price):
        problems.append(
            f"take-profit {m.new_value} must be {'above' if long else 'below'} the price {price}"
        )
    if kind is ModificationKind.ADD_TP and not (
        m.fraction is not None and ZERO < m.fraction <= ONE
    ):
        problems.append(f"ADD_TP fraction {m.fraction} must be in (0, 1]")
    return problems


def _stop_move(new: Decimal, pos: OpenPosition, price: Decimal, long: bool) -> list[str]:
    problems = []
    if (new >= price) if long else (new <= price):
        problems.append(f"stop {new} must be {'below' if long else 'above'} the price {price}")
    if pos.stop_loss is not None and ((new < pos.stop_loss) if long else (new > pos.stop_loss)):
        problems.append(
            f"stop {new} moves away from the current stop {pos.stop_loss} (never increase risk)"
        )
    return problems


def _out_of_range(p: Proposal) -> list[str]:
    """Numbers a TradeDecision cannot carry (|x| >= 1e18, more than 40 decimal places)."""
    named: list[tuple[str, Decimal | None]] = [
        ("confidence", p.confidence),
        ("entry_price", p.entry_price),
        ("stop_loss", p.stop_loss),
        ("close_fraction", p.close_fraction),
    ]
    for i, tp in enumerate(p.take_profits):
        named += [(f"take-profit {i} price", tp.price), (f"take-profit {i} fraction", tp.fraction)]
    for i, m in enumerate(p.modifications):
        named += [
            (f"modification {i} {field}", getattr(m, field))
            for field in ("new_value", "fraction", "trail_percent")
        ]
    return [f"{name} {value} is out of range: {problem}" for name, value in named
            if value is not None and (problem := decimal_problem(value)) is not None]
