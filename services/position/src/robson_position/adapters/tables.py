"""Tables of the position schema (the inbox and outbox come from robson_kit)."""

from __future__ import annotations

from robson_kit.auth.audit import actor_default
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

positions = Table(
    "positions", metadata,
    Column("position_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("trader_id", String(64), nullable=False),
    Column("symbol", String(20), nullable=False),
    Column("side", String(5), nullable=False),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("realized_pnl", Numeric, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("state", JSONB, nullable=False),
    Index("ix_positions_account_status", "account_id", "status"),
    Index("ix_positions_trader_symbol", "trader_id", "symbol"),
)

fills = Table(
    "fills", metadata,
    Column("fill_id", String(64), primary_key=True),
    Column("position_id", String(64), nullable=False, index=True),
    Column("order_id", String(36), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("price", Numeric, nullable=False),
    Column("quantity", Numeric, nullable=False),
    Column("fee", Numeric, nullable=False),
    Column("filled_at", DateTime(timezone=True), nullable=False),
)

modifications = Table(
    "modifications", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("position_id", String(64), nullable=False, index=True),
    Column("message_id", String(36), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("triggered_by", String(20), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("request", JSONB, nullable=False),
    Column("verdict", String(10), nullable=False),
    Column("violations", JSONB, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("outcome", Text, nullable=False, server_default=""),
    Column("actor", Text, server_default=text(actor_default())),
)

traders = Table(
    "traders", metadata,
    Column("trader_id", String(64), primary_key=True),
    Column("account_id", String(64)),
    Column("paused", Boolean, nullable=False, server_default="false"),
    Column("pause_reason", Text, nullable=False, server_default=""),
    Column("policy", JSONB, nullable=False, server_default="{}"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text),
)

accounts = Table(
    "accounts", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("settings", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text),
)

venue_rules = Table(
    "venue_rules", metadata,
    Column("venue", String(10), primary_key=True),
    Column("symbol", String(20), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("told", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""The newest ``SymbolRules`` each venue told per symbol (the whole message, ``told``)."""
