"""The kill switch's watch over a batch of prices: for one account, replay the batch's price
moves in order and find the first at which its drawdown reaches the limit — the same answer as
testing after every tick, at the cost of one multiply-add per tick of a held symbol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from robson_contracts import Message

from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.killswitch import drawdown_breach
from robson_entry_gate.domain.policy import AccountPolicy
from robson_entry_gate.domain.rules import KillRequest
from robson_entry_gate.domain.state import AccountState, Market, MarketSnapshot

NEAR = Decimal("1e-9")
"""Candidates this close to the floor (relative to the peak) are confirmed with the full test,
so Decimal rounding can never hide a breach."""


@dataclass(frozen=True)
class Move:
    """One price (or market context) applied in a batch, in arrival order."""

    symbol: str
    snapshot: MarketSnapshot
    at: datetime
    cause: Message
    is_price: bool


@dataclass(frozen=True)
class Breach:
    index: int
    request: KillRequest


def first_breach(state: AccountState, base: Market, moves: Sequence[Move],
                 policy: AccountPolicy, view_at: Callable[[int], Market]) -> Breach | None:
    """The first price move after which ``drawdown_breach`` fires for this account, checking
    only moves of symbols it holds (as the per-tick watch did)."""
    if not policy.drawdown.enabled or state.kill_switch is not None or not moves:
        return None
    exposure = state.aggregates()[0]
    peak = state.peak_equity
    if peak is None or peak <= 0:  # the peak then depends on the calendar: test every move
        return _each(state, moves, policy, view_at, exposure)
    floor = peak * (1 - policy.drawdown.limit)
    near = floor + peak * NEAR
    marks = {s: _mark(base.get(s)) for s in exposure}
    equity = Figures(state, base, policy, moves[0].at).equity
    for index, move in enumerate(moves):
        held = exposure.get(move.symbol)
        if held is None:
            continue
        qty, cost = held
        new = move.snapshot.mark
        equity += _value(qty, cost, new) - _value(qty, cost, marks[move.symbol])
        marks[move.symbol] = new
        if move.is_price and equity <= near:
            request = drawdown_breach(state, view_at(index), policy, move.at)
            if request is not None:
                return Breach(index, request)
    return None


def _each(state: AccountState, moves: Sequence[Move], policy: AccountPolicy,
          view_at: Callable[[int], Market], exposure: dict) -> Breach | None:
    for index, move in enumerate(moves):
        if move.is_price and move.symbol in exposure:
            request = drawdown_breach(state, view_at(index), policy, move.at)
            if request is not None:
                return Breach(index, request)
    return None


def _mark(snap: MarketSnapshot | None) -> Decimal | None:
    return snap.mark if snap is not None else None


def _value(qty: Decimal, cost: Decimal, mark: Decimal | None) -> Decimal:
    return qty * mark - cost if mark is not None else Decimal(0)
