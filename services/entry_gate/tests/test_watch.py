"""The kill switch's batch watch answers exactly as a test after every tick would."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from robson_contracts import PositionSide, TradeTick
from robson_entry_gate.adapters.market import MarketBatch
from robson_entry_gate.adapters.memory import (
    MemoryAccountStore,
    MemoryDecisionLog,
    MemoryMarketStore,
    MemoryPolicyStore,
)
from robson_entry_gate.domain.enforce import breaches
from robson_entry_gate.domain.figures import Figures
from robson_entry_gate.domain.killswitch import drawdown_breach
from robson_entry_gate.domain.policy import AccountPolicy
from robson_entry_gate.domain.projection import on_opened
from robson_entry_gate.domain.state import MarketSnapshot
from robson_entry_gate.domain.watch import first_breach, replay
from robson_entry_gate.handlers.deps import GateDeps
from robson_entry_gate.handlers.market import watch_would_act

from .factories import T0, account, opened

D = Decimal
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
POLICY = AccountPolicy()


def _market() -> dict[str, MarketSnapshot]:
    return {s: MarketSnapshot(symbol=s, last_price=D(100), price_at=T0) for s in SYMBOLS}


def _holder(sides: list[tuple[str, PositionSide, str]]):
    state = account("10000", market=_market())
    for i, (symbol, side, qty) in enumerate(sides):
        ev = opened(f"p{i}", symbol=symbol, qty=qty)
        on_opened(state, ev.model_copy(update={"side": side}))
    return state


def _batch(prices: list[tuple[str, str]]) -> MarketBatch:
    batch = MarketBatch(_market())
    for i, (symbol, price) in enumerate(prices, start=1):
        at = T0 + timedelta(seconds=i)
        batch.price(symbol, D(price), at, TradeTick(occurred_at=at, symbol=symbol, price=price))
    return batch


def _per_tick(state, batch: MarketBatch) -> int | None:
    """The reference: the full drawdown test after each tick of a held symbol."""
    held = {p.symbol for p in state.positions.values()}
    for index, move in enumerate(batch.moves):
        if move.symbol in held and drawdown_breach(state, batch.view_at(index), POLICY, move.at):
            return index
    return None


def test_batch_watch_with_dip_that_recovers_before_batch_end_finds_the_dip() -> None:
    state = _holder([("BTCUSDT", PositionSide.LONG, "100")])  # 100 × (100 → 79) = -2,100
    batch = _batch([("BTCUSDT", "95"), ("BTCUSDT", "79"), ("BTCUSDT", "101")])
    breach = first_breach(state, batch.base, batch.moves, POLICY, batch.view_at)
    assert breach is not None and breach.index == 1
    assert breach.request.drawdown == D("0.21")


def test_batch_watch_ignores_moves_of_symbols_the_account_does_not_hold() -> None:
    state = _holder([("BTCUSDT", PositionSide.LONG, "1")])
    batch = _batch([("ETHUSDT", "1"), ("SOLUSDT", "1")])
    assert first_breach(state, batch.base, batch.moves, POLICY, batch.view_at) is None


ticks = st.lists(st.tuples(st.sampled_from(SYMBOLS), st.integers(60, 140).map(str)),
                 min_size=1, max_size=30)
positions = st.lists(st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(list(PositionSide)),
                               st.integers(1, 60).map(str)), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(positions, ticks)
def test_batch_watch_matches_a_drawdown_test_after_every_tick(sides, prices) -> None:
    state, batch = _holder(sides), _batch(prices)
    breach = first_breach(state, batch.base, batch.moves, POLICY, batch.view_at)
    assert (breach.index if breach else None) == _per_tick(state, batch)


@settings(max_examples=100, deadline=None)
@given(positions, ticks, st.integers(1, 29))
def test_equity_carried_across_batches_gives_the_same_breach_as_per_tick_tests(
    sides, prices, cut
) -> None:
    state, whole = _holder(sides), _batch(prices)
    first = _batch(prices[:cut])
    second = MarketBatch({**first.base, **first.staged})
    for move in whole.moves[cut:]:
        second.price(move.symbol, move.snapshot.last_price, move.at, move.cause)
    found, equity = replay(state, first.base, first.moves, POLICY, first.view_at)
    if found is None and second.moves:
        later, _ = replay(state, second.base, second.moves, POLICY, second.view_at, equity)
        found = later and later.__class__(later.index + len(first.moves), later.request)
    assert (found.index if found else None) == _per_tick(state, whole)


WATCHING = AccountPolicy(monthly_loss={"enabled": False})
"""The kill switch and the daily loss limit watch prices (the monthly limit is judged on a
breach the watch finds, not watched itself)."""


def _deps(state) -> GateDeps:  # type: ignore[no-untyped-def]
    """The gate's stores in memory holding ``state`` (committed) under ``WATCHING``, and
    ``_market`` (stored)."""
    deps = GateDeps(accounts=MemoryAccountStore(), market=MemoryMarketStore(),
                    policies=MemoryPolicyStore(), log=MemoryDecisionLog())  # type: ignore[arg-type]
    deps.policies._accounts[state.account_id] = WATCHING
    deps.accounts._cache[state.account_id] = (1, state)
    deps.accounts._index(state)
    deps.market.view = _market()
    deps.market.written = {s: T0 for s in SYMBOLS}
    return deps


def _acts_per_tick(state, batch: MarketBatch) -> bool:
    """The reference: the kill switch's and the daily limit's full tests after each tick of a
    held symbol."""
    held = {p.symbol for p in state.positions.values()}
    return any(move.symbol in held and (
        drawdown_breach(state, batch.view_at(i), WATCHING, move.at)
        or breaches(Figures(state, batch.view_at(i), WATCHING, move.at)))
        for i, move in enumerate(batch.moves))


@settings(max_examples=150, deadline=None)
@given(positions, ticks)
def test_watch_would_act_on_prices_exactly_when_a_test_after_every_tick_would_and_changes_nothing(
        sides, prices) -> None:
    state, batch = _holder(sides), _batch(prices)
    deps = _deps(state)
    before = (state.model_dump(), dict(deps.market.view), dict(deps.market.written))
    asked = [(m.symbol, m.snapshot.last_price, m.at) for m in batch.moves]
    assert watch_would_act(deps, asked) == _acts_per_tick(state, batch)
    assert (state.model_dump(), deps.market.view, deps.market.written) == before
    assert not deps.equity._memo and not deps.equity._floors


def test_watch_would_act_on_a_price_past_a_holders_reset_as_the_batch_would_roll_its_day() -> None:
    state = _holder([("BTCUSDT", PositionSide.LONG, "1")])
    deps = _deps(state)
    reset = datetime.combine(T0.date() + timedelta(days=1), time(0), UTC)  # the default reset
    assert not watch_would_act(deps, [("BTCUSDT", D(100), reset - timedelta(milliseconds=1))])
    assert watch_would_act(deps, [("BTCUSDT", D(100), reset)])
    assert not watch_would_act(deps, [("ETHUSDT", D(100), reset)])  # not held: nothing to roll
