"""The kit's messaging tables as migration steps that never change.

A service's Alembic chain calls these; they state the tables literally instead of building
them from ``robson_kit.tables`` (which follows the kit's current code), so an old migration
always creates what it created when it was written. A later change to the kit's tables is a
new ``messaging_vN`` step here, applied by a new migration in every service.
``tests/test_migrated_schema.py`` checks that the chain ends where ``robson_kit.tables`` is.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

Op = Any  # alembic.op (its proxy has no importable type)


def create_messaging_v1(op: Op) -> None:
    """inbox + outbox, as every service's ``0001_messaging`` created them."""
    op.create_table(
        "inbox",
        sa.Column("message_id", sa.Uuid, primary_key=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        if_not_exists=True,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("message_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("message_type", sa.String(100), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        if_not_exists=True,
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"),
                    if_not_exists=True)


def drop_messaging_v1(op: Op) -> None:
    op.drop_table("outbox")
    op.drop_table("inbox")


def create_messaging_v2(op: Op) -> None:
    """outbox_dead: events the relay could not publish, moved aside with the reason."""
    op.create_table(
        "outbox_dead",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("message_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("message_type", sa.String(100), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        if_not_exists=True,
    )


def drop_messaging_v2(op: Op) -> None:
    op.drop_table("outbox_dead")
