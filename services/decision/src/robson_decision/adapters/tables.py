"""Tables of the decision schema (the inbox and outbox come from robson_kit)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

candles = Table(
    "candles",
    metadata,
    Column("symbol", String(20), primary_key=True),
    Column("timeframe", String(4), primary_key=True),
    Column("open_time", DateTime(timezone=True), primary_key=True),
    Column("open", Numeric, nullable=False),
    Column("high", Numeric, nullable=False),
    Column("low", Numeric, nullable=False),
    Column("close", Numeric, nullable=False),
    Column("volume", Numeric, nullable=False),
)

market_contexts = Table(
    "market_contexts",
    metadata,
    Column("symbol", String(20), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), primary_key=True),
    Column("funding_rate", Numeric),
    Column("mark_price", Numeric),
    Column("index_price", Numeric),
)

positions = Table(
    "positions",
    metadata,
    Column("position_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("trader_id", String(64), nullable=False),
    Column("symbol", String(20), nullable=False),
    Column("side", String(5), nullable=False),
    Column("timeframe", String(4)),
    Column("quantity", Numeric, nullable=False),
    Column("entry_price", Numeric, nullable=False),
    Column("stop_loss", Numeric),
    Column("initial_stop", Numeric),
    Column("take_profits", JSONB, nullable=False),
    Column("trailing", Boolean, nullable=False, default=False),
    Column("last_suggestion", String(64)),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("realized_pnl", Numeric),
    Column("pnl_pct", Numeric),
    Index("positions_open_by_symbol", "symbol", "closed_at"),
    Index("positions_by_trader", "trader_id", "closed_at"),
)

trader_settings = Table(
    "trader_settings",
    metadata,
    Column("trader_id", String(64), primary_key=True),
    Column("settings", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", Text),
)

decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("account_id", String(64), nullable=False),
    Column("trader_id", String(64), nullable=False),
    Column("symbol", String(20), nullable=False),
    Column("timeframe", String(4)),
    Column("kind", String(10), nullable=False),
    Column("question", String(10), nullable=False),
    Column("engine", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason_code", String(40)),
    Column("fallback_reason", String(200)),
    Column("violations", JSONB, nullable=False),
    Column("raw_answer", Text),
    Column("proposal", JSONB),
    Column("context", JSONB, nullable=False),
    Column("payload", Text, nullable=False),
    Column("model_calls", Integer, nullable=False, default=0),
    Column("signal_id", String(64)),
    Column("position_id", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("pending_until", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(64)),
    Column("resolution_note", String(500)),
    Index("decisions_by_trader", "trader_id", "occurred_at"),
    Index("decisions_pending", "status", "pending_until"),
)

llm_usage = Table(
    "llm_usage",
    metadata,
    Column("decision_id", String(64), primary_key=True),  # a replayed review adds nothing
    Column("trader_id", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("model_calls", Integer, nullable=False),
    Index("llm_usage_by_trader", "trader_id", "occurred_at"),
)
"""Model calls of position reviews that stored no decision (the model said WATCH, or the same
suggestion again): paid all the same, so counted in the daily budget beside ``decisions``."""

model_calls = Table(
    "model_calls",
    metadata,
    Column("call_id", Integer, primary_key=True, autoincrement=True),
    Column("prompt_hash", String(64), nullable=False, index=True),
    Column("decision_id", String(64), index=True),
    Column("trader_id", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("prompt_version", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(8), nullable=False),
    Column("error", String(500)),
    Column("raw_answer", Text),
    Column("latency_ms", Numeric, nullable=False),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
