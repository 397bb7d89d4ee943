"""Tables of the execution schema (the inbox and outbox come from robson_kit)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

accounts = Table(
    "accounts", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("mode", String(8), nullable=False, server_default="PAPER"),
    Column("testnet", Boolean, nullable=False, server_default="true"),
    Column("credentials", Text, nullable=True),
    Column("key_fingerprint", String(40), nullable=True),
    Column("live_confirmed_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text),
)

orders = Table(
    "orders", metadata,
    Column("client_order_id", String(36), primary_key=True),
    Column("account_id", String(64), nullable=False, index=True),
    Column("symbol", String(20), nullable=False),
    Column("order_id", String(36), nullable=False, index=True),
    Column("list_id", String(36), nullable=True),
    Column("list_client_id", String(36), nullable=True, index=True),
    Column("position_id", String(64), nullable=True),
    Column("parent_order_id", String(36), nullable=True),
    Column("role", String(16), nullable=True),
    Column("spec", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("exchange_order_id", BigInteger, nullable=True),
    Column("filled_qty", Numeric(38, 18), nullable=False, server_default="0"),
    Column("filled_quote", Numeric(38, 18), nullable=False, server_default="0"),
    Column("superseded", Boolean, nullable=False, server_default="false"),
    Column("meta", JSONB, nullable=False, server_default="{}"),
    Column("correlation_id", String(36), nullable=False),
    Column("causation_id", String(36), nullable=False),
    Column("reject_reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

actions = Table(
    "actions", metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("action_id", String(64), nullable=False, unique=True),
    Column("account_id", String(64), nullable=False, index=True),
    Column("symbol", String(20), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(12), nullable=False, server_default="PENDING"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("not_before", DateTime(timezone=True), nullable=True),
    Column("depends_on", String(64), nullable=True),
    Column("result", Text, nullable=True),
)

fills = Table(
    "fills", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("symbol", String(20), primary_key=True),
    Column("trade_id", BigInteger, primary_key=True),
    Column("client_order_id", String(36), nullable=False, index=True),
    Column("price", Numeric(38, 18), nullable=False),
    Column("quantity", Numeric(38, 18), nullable=False),
    Column("fee", Numeric(38, 18), nullable=False),
    Column("fee_asset", String(16), nullable=False),
    Column("fee_quote", Numeric(38, 18), nullable=True),
    Column("is_maker", Boolean, nullable=False),
    Column("filled_at", DateTime(timezone=True), nullable=False),
    Column("source", String(12), nullable=False),
)

reconciliations = Table(
    "reconciliations", metadata,
    Column("reconciliation_id", String(36), primary_key=True),
    Column("account_id", String(64), nullable=False, index=True),
    Column("trigger", String(16), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("items", JSONB, nullable=False),
    Column("balances", JSONB, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("balances_at", DateTime(timezone=True), nullable=True),
)

breakers = Table(
    "breakers", metadata,
    Column("symbol", String(20), primary_key=True),
    Column("state", String(10), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
