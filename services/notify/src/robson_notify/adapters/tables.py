"""Tables of the notify schema (the inbox and outbox come from robson_kit)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

config = Table(
    "config", metadata,
    Column("id", Integer, primary_key=True),
    Column("data", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

deliveries = Table(
    "deliveries", metadata,
    Column("delivery_id", UUID(as_uuid=True), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("account_id", String(64)),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False, default=""),
    Column("collapsed_into", UUID(as_uuid=True)),
    Index("deliveries_due", "status", "next_attempt_at"),
    Index("deliveries_created", "created_at"),
)

open_positions = Table(
    "open_positions", metadata,
    Column("position_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False, index=True),
    Column("quantity", Numeric, nullable=False),
    Column("remaining", Numeric, nullable=False),
    Column("initial_risk", Numeric, nullable=False),
    Column("realized", Numeric, nullable=False, default=0),
    # realized: P&L of its partial closes so far (already counted in their days)
)

account_days = Table(
    "account_days", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("realized_pnl", Numeric, nullable=False, default=0),
    Column("closed", Integer, nullable=False, default=0),
    Column("wins", Integer, nullable=False, default=0),
    Column("opened", Integer, nullable=False, default=0),
    Column("summarized", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

reasons = Table(
    "decision_reasons", metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("reasoning", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)
