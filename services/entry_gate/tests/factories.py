"""Builders for domain tests: decisions, events and a ready account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_contracts import (
    AssetBalance,
    BalanceSnapshot,
    ExitReason,
    PositionClosed,
    PositionOpened,
    PositionSide,
    TradeDecision,
    TradingMode,
)
from robson_entry_gate.domain.policy import AccountPolicy, EffectivePolicy
from robson_entry_gate.domain.projection import on_snapshot, roll
from robson_entry_gate.domain.state import AccountState, Market, MarketSnapshot

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
ACC = "acc1"
D = Decimal


def decision(n: int = 1, *, at: datetime = T0, trader: str = "t1", symbol: str = "BTCUSDT",
             kind: str = "LONG", confidence: str = "0.8", entry: str = "100", stop: str = "95",
             quantity: str | None = None, account: str = ACC) -> TradeDecision:
    return TradeDecision(
        occurred_at=at, account_id=account, decision_id=f"d{n}", trader_id=trader,
        symbol=symbol, decision=kind, confidence=confidence, entry_price=entry,
        stop_loss=stop, quantity=quantity,
    )


def snapshot(equity: str, at: datetime = T0, free: str | None = None,
             account: str = ACC) -> BalanceSnapshot:
    return BalanceSnapshot(
        occurred_at=at, account_id=account, mode=TradingMode.PAPER,
        balances=(AssetBalance(asset="USDT", free=free or equity, locked="0"),), equity=equity,
    )


def opened(pid: str, *, at: datetime = T0, trader: str = "t1", symbol: str = "BTCUSDT",
           qty: str = "1", entry: str = "100", stop: str = "95",
           gid: str | None = None) -> PositionOpened:
    return PositionOpened(
        occurred_at=at, account_id=ACC, position_id=pid, trader_id=trader, symbol=symbol,
        side=PositionSide.LONG, quantity=qty, entry_price=entry, stop_loss=stop,
        initial_risk=str((D(entry) - D(stop)) * D(qty)), fees="0", gate_decision_id=gid,
    )


def closed(pid: str, pnl: str, *, at: datetime = T0, symbol: str = "BTCUSDT",
           reason: ExitReason = ExitReason.TAKE_PROFIT, trader: str = "t1") -> PositionClosed:
    return PositionClosed(
        occurred_at=at, account_id=ACC, position_id=pid, trader_id=trader, symbol=symbol,
        side=PositionSide.LONG, quantity="1", entry_price="100", exit_price="100",
        realized_pnl=pnl, fees="0", exit_reason=reason, opened_at=at - timedelta(minutes=5),
        holding_seconds=300,
    )


def fresh_market(at: datetime = T0, price: str = "100", symbol: str = "BTCUSDT",
                 funding: str | None = None) -> Market:
    return {symbol: MarketSnapshot(symbol=symbol, last_price=D(price), price_at=at,
                                   funding_rate=D(funding) if funding else None,
                                   context_at=at if funding else None)}


def account(equity: str = "10000", policy: AccountPolicy | None = None,
            market: Market | None = None, at: datetime = T0) -> AccountState:
    state = AccountState(account_id=ACC)
    p = policy or AccountPolicy()
    m = market if market is not None else fresh_market(at)
    roll(state, m, p, at)
    on_snapshot(state, snapshot(equity, at), m, p)
    return state


def policy(**sections: object) -> EffectivePolicy:
    return EffectivePolicy(account=AccountPolicy.model_validate(sections))


async def market_consumed(bus, n: int) -> bool:
    """The gate's market consumer has applied the first ``n`` market messages (a test that
    publishes a tick and then a decision must wait for it: the two consumers race)."""
    from robson_contracts import subjects as s

    info = await bus.js.consumer_info(s.MARKET.name, "entry_gate_market")
    return info.ack_floor.stream_seq >= n
