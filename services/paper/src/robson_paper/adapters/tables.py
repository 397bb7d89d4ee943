"""Tables of the paper schema (the inbox and outbox come from robson_kit)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

accounts = Table(
    "accounts", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("data", JSONB, nullable=False),
)

orders = Table(
    "orders", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("order_id", String(36), primary_key=True),
    Column("symbol", String(20), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("live", Boolean, nullable=False, index=True),
    Column("list_id", String(36)),
    Column("position_id", String(64)),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True)),
    Column("data", JSONB, nullable=False),
    # GET /live-orders pages through the live orders by seq (the stop watchdog, every round)
    Index("ix_orders_live_seq", "seq", postgresql_where=text("live")),
)

fills = Table(
    "fills", metadata,
    Column("fill_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False, index=True),
    Column("order_id", String(36), nullable=False),
    Column("symbol", String(20), nullable=False),
    Column("side", String(4), nullable=False),
    Column("price", Numeric, nullable=False),
    Column("quantity", Numeric, nullable=False),
    Column("fee", Numeric, nullable=False),
    Column("fee_asset", String(16), nullable=False),
    Column("liquidity", String(8), nullable=False),
    Column("filled_at", DateTime(timezone=True), nullable=False),
    Column("fill_no", Integer, nullable=False),
)

market_state = Table(
    "market_state", metadata,
    Column("symbol", String(20), primary_key=True),
    Column("last_price", Numeric),
    Column("last_time", DateTime(timezone=True)),
    Column("recent_range", Numeric),
)
