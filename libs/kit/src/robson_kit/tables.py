"""The inbox and outbox tables every service has in its own schema."""

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


def create_messaging_tables() -> None:
    """Call from a service's first Alembic migration: creates inbox and outbox."""
    from alembic import op

    for table in (inbox, outbox):
        table.to_metadata(MetaData()).create(op.get_bind(), checkfirst=True)


def drop_messaging_tables() -> None:
    from alembic import op

    op.drop_table("outbox")
    op.drop_table("inbox")
