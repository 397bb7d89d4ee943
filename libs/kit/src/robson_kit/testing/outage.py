"""A database of its own that a test can take away and give back: connections refused and every
open one terminated, as in a failover, while the session's other databases stay up."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url


@dataclass
class Outage:
    admin_url: str
    name: str
    read_only: bool = False

    @property
    def url(self) -> str:
        return make_url(self.admin_url).set(database=self.name).render_as_string(hide_password=False)

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(self.admin_url.replace("postgresql://", "postgres://", 1))
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def begin(self) -> None:
        """From now on the database refuses connections, and every open one is cut."""
        await self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false', self._terminate_all)

    async def begin_read_only(self) -> None:
        """From now on the database answers but takes no writes, as the standby a client may
        still reach in a failover: every open connection is cut and new ones are read-only
        (accepted again if ``begin`` refused them: a failover's second phase)."""
        self.read_only = True
        await self._admin(f'ALTER DATABASE "{self.name}" SET default_transaction_read_only = on',
                          f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true',
                          self._terminate_all)

    async def end(self) -> None:
        """Connections are accepted and can write again; read-only ones are cut, as clients of
        the old standby reconnect to the new primary."""
        statements = [f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true']
        if self.read_only:
            statements += [f'ALTER DATABASE "{self.name}" RESET default_transaction_read_only',
                           self._terminate_all]
            self.read_only = False
        await self._admin(*statements)

    @property
    def _terminate_all(self) -> str:
        return f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'"


@asynccontextmanager
async def outage_database(database_url: str) -> AsyncIterator[Outage]:
    outage = Outage(database_url, f"outage_{uuid.uuid4().hex[:10]}")
    await outage._admin(f'CREATE DATABASE "{outage.name}"')
    try:
        yield outage
    finally:
        await outage.end()
        await outage._admin(f'DROP DATABASE IF EXISTS "{outage.name}" WITH (FORCE)')
