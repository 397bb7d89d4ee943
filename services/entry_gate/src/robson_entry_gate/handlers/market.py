"""Ticks, closed candles and market context: marks, funding and data age; the kill switch
and the daily loss limit also watch prices, so a crash in equity is caught between fills.

Hot path: a handler only stages its price in the transaction's batch; once per batch, just
before commit, the kill switch replays the batch's moves for the accounts holding a moved
symbol (tick by tick, as if checked after each, from each account's equity carried over
from the previous batch) and the prices are persisted in one write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from robson_contracts import Candle, MarketContext, Message, TradeTick
from robson_kit.uow import UnitOfWork

from robson_entry_gate.adapters.market import MarketBatch
from robson_entry_gate.domain.calendar import TradingCalendar
from robson_entry_gate.domain.figures import calendar_of
from robson_entry_gate.domain.policy import AccountPolicy
from robson_entry_gate.domain.projection import roll
from robson_entry_gate.domain.state import AccountState, Market
from robson_entry_gate.domain.watch import Move, daily_floor, replay, watches_prices
from robson_entry_gate.handlers.deps import GateDeps, finish

BATCH_WRITE = "entry_gate.market"


def wants_market(ev: Message, deps: GateDeps) -> bool:
    """Whether a market message needs a transaction. A tick or closed candle on a symbol no
    account holds, or whose holders watch neither drawdown nor daily loss (nothing for the
    kill switch or the loss limits to watch), only moves the in-memory view, applied here;
    its row is written on a bounded schedule (a message that is due goes through the
    transaction: ``MarketStore.apply_in_memory``)."""
    if isinstance(ev, TradeTick):
        symbol, price, at = ev.symbol, ev.price, ev.occurred_at
    elif isinstance(ev, Candle):
        if not ev.closed:
            return False
        symbol, price, at = ev.symbol, ev.close, ev.close_time
    else:
        return True
    holders = deps.accounts.holders((symbol,))
    if holders:
        if _watched(deps, holders):
            return True
        deps.equity.update(holders, {})  # no carried equity survives an unwatched move
    return not deps.market.apply_in_memory(symbol, price, at)


def _watched(deps: GateDeps, holders: set[str]) -> bool:
    """A price of a symbol these accounts hold goes through the watch (``wants_market``)."""
    return any(watches_prices(deps.policies.account(a)) for a in holders)


def watch_may_see(deps: GateDeps, symbol: str, until: datetime) -> bool:
    """Whether a price of ``symbol`` at or before ``until`` may go through the watch's
    transaction (``wants_market``: an account holding it watches prices, or its row is due).
    When not, ``watch_would_act`` says no to any prices of it, and a caller need not build
    them."""
    return holders_watched(deps, symbol) or deps.market.row_due(symbol, until)


def holders_watched(deps: GateDeps, symbol: str) -> bool:
    """The part of ``watch_may_see`` that event time does not move: an account holding
    ``symbol`` watches prices. It changes only when the gate's projections or policies do."""
    holders = deps.accounts.holders((symbol,))
    return bool(holders) and _watched(deps, holders)


def watch_would_act(deps: GateDeps, prices: Iterable[tuple[str, Decimal, datetime]]) -> bool:
    """Would these prices (symbol, price, event time), fetched as one batch in this order, make
    the market handler do more than move prices: a holder's day rolled at a reset, its kill
    switch or a loss limit tripped (or a price that takes a transaction for its row)? Answered
    by the code the batch would run (``wants_market``'s choice of what goes through the
    watch, ``_reset_index``, ``_floor``, ``replay``) on the committed projections and carried
    equities, and changes nothing: no batch is staged, no account locked, nothing memoised or
    moved. A backtest asks it before it leaves a step's path ticks out (the candle that
    follows them then moves the same prices on to its close)."""
    batch = MarketBatch(deps.market.view)
    for symbol, price, at in prices:
        holders = deps.accounts.holders((symbol,))
        if holders and _watched(deps, holders):
            batch.price(symbol, price, at, None)  # type: ignore[arg-type]  # never a cause
        elif deps.market.row_due(symbol, at):
            return True
    if not batch.moves:
        return False
    day_keys: dict[tuple, str] = {}
    holders = deps.accounts.holders({m.symbol for m in batch.moves})
    for cached, version in deps.accounts.committed(holders):
        policy = deps.policies.account(cached.account_id)
        if _reset_index(cached, policy, batch) is not None:
            return True
        start = deps.equity.get(cached.account_id, version, policy)
        floor = _floor(deps, cached, version, policy, batch, day_keys, keep=False)
        if replay(cached, batch.base, batch.moves, policy, batch.view_at, start, floor)[0]:
            return True
    return False


async def handle_market(ev: Message, uow: UnitOfWork, deps: GateDeps) -> None:
    batch = deps.market.batch(uow)
    if isinstance(ev, TradeTick):
        batch.price(ev.symbol, ev.price, ev.occurred_at, ev)
    elif isinstance(ev, Candle):
        if not ev.closed:
            return
        batch.price(ev.symbol, ev.close, ev.close_time, ev)
    elif isinstance(ev, MarketContext):
        batch.context(ev.symbol, ev.funding_rate, ev.mark_price, ev.occurred_at, ev)
    else:
        return

    async def close_batch(u: UnitOfWork) -> None:
        await _watch_drawdown(u, deps, batch)
        await deps.market.persist(u, batch)

    uow.before_commit(BATCH_WRITE, close_batch)


async def _watch_drawdown(uow: UnitOfWork, deps: GateDeps, batch: MarketBatch) -> None:
    holders = deps.accounts.holders({m.symbol for m in batch.moves})
    results = {}
    day_keys: dict[tuple, str] = {}  # see _floor
    for cached, version in deps.accounts.committed(holders):
        account_id = cached.account_id
        policy = deps.policies.account(account_id)
        cached, version = await _roll_at_reset(uow, deps, cached, version, policy, batch)
        start = deps.equity.get(account_id, version, policy)
        floor = _floor(deps, cached, version, policy, batch, day_keys)
        base, offset = batch.base, 0
        while True:
            breach, equity = replay(cached, base, batch.moves[offset:], policy,
                                    lambda i, o=offset: batch.view_at(i + o), start, floor)
            results[account_id] = (version, policy, equity if offset == 0 else None)
            if breach is None:
                break
            index = offset + breach.index
            view = batch.view_at(index)
            state, version = await _roll_and_write(uow, deps, account_id, view, policy,
                                                   batch.moves[index])
            results[account_id] = (version, policy, None)
            # A loss limit acted, but the kill switch (and a later day's limit) still watch
            # the rest of the batch, as a test after every tick would.
            offset = index + 1
            if state.kill_switch is not None or offset >= len(batch.moves):
                break
            cached, base, start = state, view, None
            floor = (daily_floor(state, view, policy, batch.moves[offset].at)
                     if policy.daily_loss.enabled else None)
    uow.after_commit(lambda: deps.equity.update(holders, results))


@lru_cache(maxsize=4096)
def _next_reset(calendar: TradingCalendar, last: datetime) -> datetime:
    """Per holder and batch: the same few instants again and again."""
    return calendar.next_reset(last)


async def _roll_at_reset(uow: UnitOfWork, deps: GateDeps, cached: AccountState, version: int,
                         policy: AccountPolicy, batch: MarketBatch) -> tuple[AccountState, int]:
    """A holder's day (and month) starts at the reset, at the prices standing then, even when
    no fill or decision of its own comes for a while: rolled lazily by its next account event,
    its start would be the equity after whatever the market did meanwhile, so that loss would
    count in no day or month (and the watch, judging the new day against no start, could not
    confirm a daily breach). Rolled here, at the first move past the reset, on the view just
    before it (once per account and day)."""
    index = _reset_index(cached, policy, batch)
    if index is None:
        return cached, version
    view = batch.view_at(index - 1) if index else batch.base
    return await _roll_and_write(uow, deps, cached.account_id, view, policy, batch.moves[index])


def _reset_index(cached: AccountState, policy: AccountPolicy, batch: MarketBatch) -> int | None:
    """The batch's first move at or past the account's next reset (None: the batch stays in
    the account's day)."""
    last = cached.last_event_at
    if last is None or not batch.moves:
        return None
    reset = _next_reset(calendar_of(policy), last)
    if batch.moves[-1].at < reset:
        return None
    return next(i for i, m in enumerate(batch.moves) if m.at >= reset)


def _floor(deps: GateDeps, cached: AccountState, version: int, policy: AccountPolicy,
           batch: MarketBatch, day_keys: dict[tuple, str], keep: bool = True) -> Decimal | None:
    """The daily-loss floor the batch is watched against (None: no daily limit to watch).
    ``day_keys``: one calendar lookup per distinct reset and instant, across a batch's
    holders."""
    if not policy.daily_loss.enabled or not batch.moves:
        return None
    # The floor of the day the account is in: after a roll at a reset inside this batch,
    # today's (the batch's first move may still be yesterday's).
    at = batch.moves[0].at
    floor_at = max(at, cached.last_event_at or at)
    reset = (policy.daily_reset.time, policy.daily_reset.timezone, floor_at)
    if reset not in day_keys:
        day_keys[reset] = calendar_of(policy).day_key(floor_at)
    return deps.equity.floor(cached, version, policy, batch.base, floor_at, day_keys[reset],
                             keep)


async def _roll_and_write(uow: UnitOfWork, deps: GateDeps, account_id: str, view: Market,
                          policy: AccountPolicy, move: Move) -> tuple[AccountState, int]:
    """Lock the account, roll it to ``move``'s time on ``view`` and write it (with what the roll
    and its checks emit) in this batch's transaction."""
    state, version = await deps.accounts.lock(uow.session, account_id)
    roll(state, view, policy, move.at)
    await finish(uow, deps, state, version, state.last_event_at or move.at, move.cause,
                 market=view, deferred=False)  # already a before-commit write
    return state, version
