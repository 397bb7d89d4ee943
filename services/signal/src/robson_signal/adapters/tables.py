"""Tables of the signal schema (the inbox and outbox come from robson_kit)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

candles = Table(
    "candles",
    metadata,
    Column("symbol", String(20), primary_key=True),
    Column("timeframe", String(4), primary_key=True),
    Column("open_ms", BigInteger, primary_key=True),
    Column("open", Numeric, nullable=False),
    Column("high", Numeric, nullable=False),
    Column("low", Numeric, nullable=False),
    Column("close", Numeric, nullable=False),
    Column("volume", Numeric, nullable=False),
    Column("source", String(16), nullable=False),
)

signals = Table(
    "signals",
    metadata,
    Column("signal_id", String(64), primary_key=True),
    Column("trader_id", String(64), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("strategy", String(100), nullable=False),
    Column("symbol", String(20), nullable=False),
    Column("timeframe", String(4), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Index("ix_signals_trader_time", "trader_id", "occurred_at"),
    Index("ix_signals_symbol_time", "symbol", "occurred_at"),
)

bindings = Table(
    "trader_bindings",
    metadata,
    Column("trader_id", String(64), primary_key=True),
    Column("body", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

market_context = Table(
    "market_context",
    metadata,
    Column("symbol", String(20), primary_key=True),
    Column("metric", String(32), primary_key=True),
    Column("at", DateTime(timezone=True), primary_key=True),
    Column("value", Numeric, nullable=False),
)
