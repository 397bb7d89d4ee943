"""Durable consumers of entry_gate."""

from __future__ import annotations

from robson_contracts import (
    BalanceSnapshot,
    Candle,
    DeadLetter,
    MarketContext,
    PositionError,
    PositionEvent,
    TradeDecision,
    TraderStatusChanged,
    TradeTick,
)
from robson_contracts import subjects as s
from robson_kit.consumer import ConsumerSpec

from robson_entry_gate.handlers.dead_approvals import POSITION_GATE_DEAD_LETTERS, handle_dead_letter
from robson_entry_gate.handlers.decisions import handle_trade_decision, is_entry
from robson_entry_gate.handlers.deps import GateDeps
from robson_entry_gate.handlers.events import handle_account_event
from robson_entry_gate.handlers.market import handle_market, wants_market


def consumer_specs(deps: GateDeps) -> list[ConsumerSpec]:
    async def on_decision(message, uow):
        await handle_trade_decision(message, uow, deps)

    async def on_account(message, uow):
        await handle_account_event(message, uow, deps)

    async def on_market(message, uow):
        await handle_market(message, uow, deps)

    async def on_dead_letter(message, uow):
        await handle_dead_letter(message, uow, deps)

    return [
        ConsumerSpec("entry_gate_decisions", s.DECISIONS, (s.ALL_DECISIONS,), on_decision,
                     accepts=(TradeDecision,), wants=is_entry),
        ConsumerSpec("entry_gate_positions", s.POSITIONS,
                     (s.ALL_POSITION_EVENTS, s.ALL_TRADER_EVENTS), on_account,
                     accepts=(PositionEvent, PositionError, TraderStatusChanged)),
        ConsumerSpec("entry_gate_balances", s.ACCOUNTS, (s.ALL_BALANCES,), on_account,
                     accepts=(BalanceSnapshot,)),
        ConsumerSpec("entry_gate_dead_approvals", s.DEAD_LETTERS, (POSITION_GATE_DEAD_LETTERS,),
                     on_dead_letter, accepts=(DeadLetter,)),
        # Idempotent: stored prices only move forward and a kill switch's ids derive from the
        # tick that tripped it, so market data needs no inbox record. Prices nobody holds
        # move the in-memory view only (``wants_market``), stored on a bounded schedule.
        # Paced: live, prices arrive in bursts of up to PACED_FETCH_SECONDS (kit: pull).
        ConsumerSpec("entry_gate_market", s.MARKET,
                     (s.ALL_TICKS, s.ALL_CANDLES, s.ALL_MARKET_CONTEXT), on_market,
                     accepts=(TradeTick, Candle, MarketContext), record_inbox=False,
                     wants=lambda message: wants_market(message, deps), paced=True),
    ]
