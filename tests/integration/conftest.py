"""Cross-service integration: the real position and paper services on real NATS + Postgres."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest_asyncio
from robson_contracts import Candle, GateDecision, TakeProfitLevel, TradeDecision, TradeTick
from robson_kit.testing import drop_schema, token, unique_schema

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
D = Decimal


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def allow_entry(gate_id: str, qty: str = "0.2", account: str = "acc1") -> GateDecision:
    """What entry_gate publishes for an allowed LONG: 0.2 BTC @ ~50000, stop 49000,
    half at 51000 and half at 52000."""
    decision = TradeDecision(
        occurred_at=T0, account_id=account, decision_id=f"d-{gate_id}", trader_id="t1",
        symbol="BTCUSDT", decision="LONG", confidence="0.8", entry_price="50000", stop_loss="49000",
        take_profits=(TakeProfitLevel(price="51000", fraction="0.5"),
                      TakeProfitLevel(price="52000", fraction="0.5")),
        reasoning="integration: ema cross")
    return GateDecision(occurred_at=T0, account_id=account, gate_decision_id=gate_id,
                        outcome="ALLOW_ENTRY", decision=decision, checks=(), approved_quantity=qty)


def tick(price: str, minutes: float) -> TradeTick:
    return TradeTick(occurred_at=at(minutes), symbol="BTCUSDT", price=price, quantity="5",
                     trade_id=f"t{minutes}", source="SYNTHETIC")


def candle(open_min: int, o: str, h: str, low: str, c: str) -> Candle:
    return Candle(occurred_at=at(open_min + 5), symbol="BTCUSDT", timeframe="5m",
                  open_time=at(open_min), close_time=at(open_min + 5), open=o, high=h, low=low, close=c,
                  volume="10")


def paper_env(nats_url: str, database_url: str, schema: str) -> dict[str, str]:
    return {"NATS_URL": nats_url, "DATABASE_URL": database_url, "ROBSON_PAPER_DB_SCHEMA": schema,
            "ROBSON_PAPER_ACK_WAIT_SECONDS": "2", "ROBSON_PAPER_SLIPPAGE_BPS": "0",
            "ROBSON_PAPER_LOG_LEVEL": "WARNING", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}


def position_env(nats_url: str, database_url: str, schema: str, paper_url: str) -> dict[str, str]:
    return {"NATS_URL": nats_url, "DATABASE_URL": database_url, "ROBSON_POSITION_DB_SCHEMA": schema,
            "ROBSON_POSITION_ACK_WAIT_SECONDS": "2", "ROBSON_POSITION_OUTBOX_POLL_SECONDS": "0.2",
            "ROBSON_POSITION_LOG_LEVEL": "WARNING", "ROBSON_POSITION_PAPER_URL": paper_url,
            "ROBSON_POSITION_RESYNC_RETRY_SECONDS": "0.5",
            "ROBSON_POSITION_SERVICE_TOKEN": token("read", subject="service:position"),
            "PYTHONPATH": os.environ.get("PYTHONPATH", "")}


@pytest_asyncio.fixture
async def schemas(database_url: str) -> AsyncIterator[tuple[str, str]]:
    """Fresh (paper, position) schemas: each service owns its own."""
    names = (unique_schema("paper"), unique_schema("position"))
    try:
        yield names
    finally:
        for name in names:
            await drop_schema(database_url, name)
