"""Alembic per service: one script directory each, version table inside the service schema.

A service's ``migrations/env.py`` is two lines::

    from robson_kit.migrations import run_env
    from robson_paper.adapters.tables import metadata
    run_env(metadata)

and start-up (or ``robson migrate``) calls :func:`upgrade`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from robson_kit.db import check_schema_name, make_engine
from robson_kit.service_lock import TENURE_TABLE

logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)  # "Context impl …" on every /readyz


def alembic_config(script_location: Path, database_url: str, schema: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = database_url
    cfg.attributes["schema"] = check_schema_name(schema)
    return cfg


def upgrade(script_location: Path, database_url: str, schema: str, revision: str = "head") -> None:
    """Blocking; run in a thread from async code (Alembic drives its own event loop)."""
    command.upgrade(alembic_config(script_location, database_url, schema), revision)


def head_revisions(script_location: Path) -> set[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return set(ScriptDirectory.from_config(cfg).get_heads())


async def current_revisions(database_url: str, schema: str) -> set[str]:
    engine = make_engine(database_url, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: set(MigrationContext.configure(
                    sync, opts={"version_table_schema": schema}
                ).get_current_heads())
            )
    finally:
        await engine.dispose()


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's ``env.py``."""
    cfg = context.config
    x_args = context.get_x_argument(as_dictionary=True)
    database_url = (
        cfg.attributes.get("database_url")
        or os.environ.get("DATABASE_URL")
        or cfg.get_main_option("sqlalchemy.url")
    )
    schema = cfg.attributes.get("schema") or x_args.get("schema") or cfg.get_main_option("robson.schema")
    if not database_url or not schema:
        raise RuntimeError("database_url and schema must be set (use robson_kit.migrations.upgrade)")
    if context.is_offline_mode():
        context.configure(url=database_url, target_metadata=target_metadata,
                          version_table_schema=schema, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(database_url, schema, target_metadata))


async def _run_online(database_url: str, schema: str, target_metadata: MetaData) -> None:
    engine = make_engine(database_url, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.commit()
            await conn.run_sync(_do_migrations, schema, target_metadata)
    finally:
        await engine.dispose()


def _not_the_lock_tenure(obj: object, name: str | None, type_: str, reflected: bool,
                         compare_to: object) -> bool:
    """Autogenerate leaves the service lock's table alone: the kit creates it at run time
    (``robson_kit.service_lock``), no migration does."""
    return not (type_ == "table" and name == TENURE_TABLE)


def _do_migrations(connection: Connection, schema: str, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
        include_object=_not_the_lock_tenure,
    )
    with context.begin_transaction():
        # Two replicas starting together must not both migrate.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
        context.run_migrations()
