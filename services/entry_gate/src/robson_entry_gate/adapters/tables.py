"""Tables of the entry_gate schema (the inbox and outbox come from robson_kit)."""

from __future__ import annotations

from robson_kit.auth.audit import actor_default
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
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

account_state = Table(
    "account_state", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""One projection document per account, versioned; rows are locked while a handler works."""

market_state = Table(
    "market_state", metadata,
    Column("symbol", String(20), primary_key=True),
    Column("last_price", Numeric, nullable=True),
    Column("price_at", DateTime(timezone=True), nullable=True),
    Column("funding_rate", Numeric, nullable=True),
    Column("mark_price", Numeric, nullable=True),
    Column("context_at", DateTime(timezone=True), nullable=True),
)

policies = Table(
    "policies", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("trader_id", String(64), primary_key=True),
    Column("policy", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text),
)
"""trader_id '*' holds the account policy."""

gate_decisions = Table(
    "gate_decisions", metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("gate_decision_id", String(64), nullable=False, unique=True),
    Column("decision_id", String(64), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("trader_id", String(64), nullable=False),
    Column("symbol", String(20), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason_codes", JSONB, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("payload", JSONB, nullable=False),
    Index("ix_gate_decisions_account", "account_id", "decided_at"),
)
"""Append-only: a trigger refuses UPDATE and DELETE."""

admin_actions = Table(
    "admin_actions", metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, server_default=text(actor_default())),
)
