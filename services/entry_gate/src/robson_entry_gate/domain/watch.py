"""The risk watch over a batch of prices: for one account, replay the batch's price moves in
order and find the first at which its drawdown reaches the kill switch's limit or its day's
loss reaches the daily limit — the same answer as testing after every tick, at the cost of one
multiply-add per tick of a held symbol. (Between two changes of the projection the day's P&L
and the equity differ by a constant, so the daily limit is a floor on equity too.)"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from robson_contracts import Message

from robson_entry_gate.domain.enforce import breaches
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
    request: KillRequest | None
    """None: a loss limit (not the kill switch) was breached at ``index``."""


def watches_prices(policy: AccountPolicy) -> bool:
    """Whether prices can trip anything for an account under ``policy`` (``replay`` watches
    nothing otherwise)."""
    return policy.drawdown.enabled or policy.daily_loss.enabled


def first_breach(state: AccountState, base: Market, moves: Sequence[Move],
                 policy: AccountPolicy, view_at: Callable[[int], Market]) -> Breach | None:
    """The first price move after which ``drawdown_breach`` fires for this account, checking
    only moves of symbols it holds (as the per-tick watch did)."""
    return replay(state, base, moves, policy, view_at)[0]


def daily_floor(state: AccountState, base: Market, policy: AccountPolicy,
                at: datetime) -> Decimal | None:
    """The equity at which the day's loss reaches the daily limit (None: nothing to watch)."""
    if not policy.daily_loss.enabled or state.kill_switch is not None:
        return None
    f = Figures(state, base, policy, at)
    if f"day:{f.day_key}" in state.breaches:
        return None
    return f.equity - f.day_pnl - policy.daily_loss.limit * f.day_start_capital


def replay(state: AccountState, base: Market, moves: Sequence[Move], policy: AccountPolicy,
           view_at: Callable[[int], Market], equity: Decimal | None = None,
           floor: Decimal | None = None) -> tuple[Breach | None, Decimal | None]:
    """``first_breach``, starting from ``equity`` at ``base`` when known (carried over from
    the previous batch), and the equity after the last move (None when not computed);
    ``floor`` (``daily_floor``) adds the daily limit to the watch."""
    watch_dd = policy.drawdown.enabled and state.kill_switch is None
    if not (watch_dd or floor is not None) or not moves:
        return None, None
    exposure = state.aggregates()[0]
    peak = state.peak_equity
    if peak is None or peak <= 0:  # the peak then depends on the calendar: test every move
        return _each(state, moves, policy, view_at, exposure), None
    near = peak * (1 - policy.drawdown.limit) + peak * NEAR if watch_dd else None
    if floor is not None:
        floor += abs(floor) * NEAR
        near = floor if near is None else max(near, floor)
    marks = {symbol: _mark(base.get(symbol)) for symbol in exposure}
    if equity is None:
        equity = Figures(state, base, policy, moves[0].at).equity
    for index, move in enumerate(moves):
        held = exposure.get(move.symbol)
        if held is None:
            continue
        new, old = move.snapshot.mark, marks[move.symbol]
        if new is not None and old is not None:
            equity += held[0] * (new - old)  # the position's value moved: its cost is the same
        else:
            equity += _value(*held, new) - _value(*held, old)
        marks[move.symbol] = new
        if move.is_price and equity <= near:
            found = _confirm(state, view_at(index), policy, move.at)
            if found is not None:
                return Breach(index, found[0]), None
    return None, equity


def _confirm(state: AccountState, view: Market, policy: AccountPolicy,
             at: datetime) -> tuple[KillRequest | None] | None:
    request = drawdown_breach(state, view, policy, at)
    if request is not None:
        return (request,)
    if breaches(Figures(state, view, policy, at)):
        return (None,)
    return None


class EquityMemo:
    """Each watched account's equity at the committed market view, carried from one batch to
    the next so a batch costs one multiply-add per tick of a held symbol. An entry holds only
    while the account's projection version and policy are unchanged; it is set or dropped for
    every holder of a moved symbol after each committed batch (a holder skipped because
    another transaction had it locked is dropped, never carried stale)."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[int, AccountPolicy, Decimal]] = {}
        self._floors: dict[str, tuple[int, AccountPolicy, str, Decimal | None]] = {}

    def floor(self, state: AccountState, version: int, policy: AccountPolicy, base: Market,
              at: datetime, day_key: str, keep: bool = True) -> Decimal | None:
        """``daily_floor``, kept while the projection, policy and trading day are unchanged
        (``keep=False``: a value not kept yet is computed and not kept, for a question that
        must leave no trace)."""
        held = self._floors.get(state.account_id)
        if held is not None and held[0] == version and held[1] is policy and held[2] == day_key:
            return held[3]
        value = daily_floor(state, base, policy, at)
        if keep:
            self._floors[state.account_id] = (version, policy, day_key, value)
        return value

    def get(self, account_id: str, version: int, policy: AccountPolicy) -> Decimal | None:
        held = self._memo.get(account_id)
        if held is None or held[0] != version or held[1] is not policy:
            return None
        return held[2]

    def update(self, holders: set[str],
               results: dict[str, tuple[int, AccountPolicy, Decimal | None]]) -> None:
        for account_id in holders:
            version, policy, equity = results.get(account_id, (0, None, None))
            if equity is None:
                self._memo.pop(account_id, None)
            else:
                self._memo[account_id] = (version, policy, equity)


def _each(state: AccountState, moves: Sequence[Move], policy: AccountPolicy,
          view_at: Callable[[int], Market], exposure: dict) -> Breach | None:
    for index, move in enumerate(moves):
        if move.is_price and move.symbol in exposure:
            found = _confirm(state, view_at(index), policy, move.at)
            if found is not None:
                return Breach(index, found[0])
    return None


def _mark(snap: MarketSnapshot | None) -> Decimal | None:
    return snap.mark if snap is not None else None


def _value(qty: Decimal, cost: Decimal, mark: Decimal | None) -> Decimal:
    return qty * mark - cost if mark is not None else Decimal(0)
