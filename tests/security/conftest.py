"""Every covered service as its own process (as `robson up` runs them) on the session's NATS and
Postgres, reached over HTTP; the database URL carries a password the tests look for."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from robson_kit.embedded import Infrastructure
from robson_kit.testing import ServiceProcess

from .registry import SERVICES

FUZZ_WRITE_RATE = "1000000"
"""The fuzzer sends far more than 100 writes a minute with one token; the limit has its own test."""


@dataclass
class Running:
    procs: dict[str, ServiceProcess]
    db_password: str
    logs: Path

    def url(self, name: str) -> str:
        return self.procs[name].url


async def _role_with_password(server_url: str, role: str, password: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'")
    finally:
        await conn.close()


def _with_credentials(url: str, role: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    host = rest.split("@", 1)[-1]
    return f"{scheme}://{role}:{password}@{host}"


@pytest.fixture(scope="package")
def running(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run = uuid.uuid4().hex[:8]
    role, password = f"sec_{run}", f"pw-{secrets.token_hex(12)}"
    asyncio.run(_role_with_password(infra.database_url, role, password))
    database_url = _with_credentials(infra.database_url, role, password)
    logs = tmp_path_factory.mktemp("security-logs")
    procs: dict[str, ServiceProcess] = {}
    try:
        for svc in SERVICES:
            env = {"NATS_URL": infra.nats_url, "DATABASE_URL": database_url,
                   "ROBSON_AUTH_WRITE_RATE_PER_MINUTE": FUZZ_WRITE_RATE,
                   f"{svc.prefix}DB_SCHEMA": f"sec_{run}_{svc.name}",
                   **{svc.prefix + k: v for k, v in svc.env.items()}}
            procs[svc.name] = ServiceProcess(svc.module, env, f"{svc.prefix}HTTP_PORT",
                                             logs / f"{svc.name}.log").start(ready=False)
        for proc in procs.values():
            proc.wait_ready(120.0)
        yield Running(procs, password, logs)
    finally:
        for proc in procs.values():
            proc.stop()


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    from .fuzzing import FAILED, SENT

    if SENT:
        terminalreporter.write_line("schemathesis requests sent per service (failures): " + ", ".join(
            f"{name} {count} ({FAILED[name]})" for name, count in sorted(SENT.items())))
