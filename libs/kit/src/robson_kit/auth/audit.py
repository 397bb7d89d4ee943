"""The authenticated subject in audit rows: a route sets it for its transaction; audit columns
default to it (``actor_default()``), and ``updated_by`` triggers stamp it on updates, so no
repository has to thread it through and no caller can supply it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from robson_kit.auth.scopes import Principal

SETTING = "robson.actor"
_SET = text("SELECT set_config('robson.actor', :actor, true)")


async def record_actor(session: AsyncSession, principal: Principal) -> None:
    """Transaction-local: rows this transaction writes record ``principal.subject``."""
    await session.execute(_SET, {"actor": principal.subject})


def actor_default() -> str:
    """A server default for an ``actor`` column (NULL when no route set it: the service itself)."""
    return f"current_setting('{SETTING}', true)"


def updated_by_trigger_sql(table: str) -> list[str]:
    """DDL: ``<table>.updated_by`` is set from the transaction's actor on every insert/update."""
    fn = f"{table}_stamp_updated_by"
    return [
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS updated_by text",
        f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"NEW.updated_by := current_setting('{SETTING}', true); RETURN NEW; END $$",
        f"DROP TRIGGER IF EXISTS {fn} ON {table}",
        f"CREATE TRIGGER {fn} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {fn}()",
    ]


def drop_updated_by_sql(table: str) -> list[str]:
    fn = f"{table}_stamp_updated_by"
    return [f"DROP TRIGGER IF EXISTS {fn} ON {table}", f"DROP FUNCTION IF EXISTS {fn}()",
            f"ALTER TABLE {table} DROP COLUMN IF EXISTS updated_by"]
