"""Every service's Alembic chain, applied to an empty schema, yields exactly the tables its code
uses: the kit's messaging tables (``robson_kit.tables``) and the service's own
(``robson_<svc>.adapters.tables``). Migrations state their tables literally, so a model change
without a migration (or the reverse) fails here."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from robson_kit import migrations
from robson_kit.db import make_engine
from robson_kit.tables import messaging_metadata
from robson_kit.testing import drop_schema, unique_schema
from sqlalchemy import MetaData

ROOT = Path(__file__).resolve().parents[3]
SERVICE_MIGRATIONS = sorted(ROOT.glob("services/*/src/robson_*/migrations"))
CASES = [(d, f"{d.parent.name}.adapters.tables") for d in SERVICE_MIGRATIONS] + [
    (Path(__file__).parent / "sampleapp" / "migrations", "sampleapp.app")
]


def _expected(models_module: str) -> MetaData:
    combined = MetaData()
    for source in (messaging_metadata, importlib.import_module(models_module).metadata):
        for table in source.tables.values():
            table.to_metadata(combined)
    return combined


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name == "alembic_version")


@pytest.mark.parametrize(("migrations_dir", "models_module"), CASES,
                         ids=[d.parent.name if d.parent.name.startswith("robson_") else "sampleapp"
                              for d, _ in CASES])
async def test_migrated_schema_equals_the_models(
    database_url: str, migrations_dir: Path, models_module: str
) -> None:
    assert SERVICE_MIGRATIONS, "no service migrations found"
    schema = unique_schema("mig")
    expected = _expected(models_module)
    try:
        await asyncio.to_thread(migrations.upgrade, migrations_dir, database_url, schema)
        engine = make_engine(database_url, schema, pool_size=1)
        try:
            async with engine.connect() as conn:
                diff = await conn.run_sync(lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={
                        "compare_type": True, "include_object": _include,
                    }), expected))
        finally:
            await engine.dispose()
    finally:
        await drop_schema(database_url, schema)
    assert diff == [], f"{migrations_dir.parent.name}: migrations and models differ: {diff}"
