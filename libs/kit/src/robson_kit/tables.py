"""The inbox and outbox tables every service has in its own schema (the current models; the
migrations that create them are frozen in ``robson_kit.migrations_frozen``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

messaging_metadata = MetaData()

inbox = Table(
    "inbox",
    messaging_metadata,
    Column("message_id", Uuid, primary_key=True),
    Column("consumer", String(100), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = Table(
    "outbox",
    messaging_metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("message_id", Uuid, nullable=False, unique=True),
    Column("subject", String(255), nullable=False),
    Column("message_type", String(100), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
)


outbox_dead = Table(
    "outbox_dead",
    messaging_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("message_id", Uuid, nullable=False, unique=True),
    Column("subject", String(255), nullable=False),
    Column("message_type", String(100), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""Outbox events the relay could not publish (too large, refused by the server), moved aside
with the reason so they never block the events behind them."""


def create_messaging_tables() -> None:
    """Deprecated (kept for migrations written before the freeze): creates every messaging
    table at its latest version. New migrations call ``robson_kit.migrations_frozen``'s
    ``create_messaging_v1(op)`` and then ``create_messaging_v2(op)`` (both idempotent)."""
    from alembic import op

    from robson_kit.migrations_frozen import create_messaging_v1, create_messaging_v2

    create_messaging_v1(op)
    create_messaging_v2(op)


def drop_messaging_tables() -> None:
    from alembic import op

    op.drop_table("outbox_dead", if_exists=True)
    op.drop_table("outbox")
    op.drop_table("inbox")
