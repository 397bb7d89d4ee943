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


def add_auth_actor_v1(op: Op, actor_tables: tuple[str, ...], updated_by_tables: tuple[str, ...]) -> None:
    """``actor`` columns defaulting to the transaction's authenticated subject, and
    ``updated_by`` stamped by a trigger, as every service's ``auth_actor`` migration added them
    (the SQL of ``robson_kit.auth.audit`` at the time, stated literally)."""
    for table in actor_tables:
        op.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS actor text")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN actor SET DEFAULT "
                   "current_setting('robson.actor', true)")
    for table in updated_by_tables:
        fn = f"{table}_stamp_updated_by"
        op.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS updated_by text")
        op.execute(f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "NEW.updated_by := current_setting('robson.actor', true); RETURN NEW; END $$")
        op.execute(f"DROP TRIGGER IF EXISTS {fn} ON {table}")
        op.execute(f"CREATE TRIGGER {fn} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW "
                   f"EXECUTE FUNCTION {fn}()")


def drop_auth_actor_v1(op: Op, actor_tables: tuple[str, ...], updated_by_tables: tuple[str, ...]) -> None:
    for table in updated_by_tables:
        fn = f"{table}_stamp_updated_by"
        op.execute(f"DROP TRIGGER IF EXISTS {fn} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS updated_by")
    for table in actor_tables:
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS actor")
