"""Composition root of the execution service."""

from __future__ import annotations

from pathlib import Path

from robson_kit.service import Service

from robson_execution.adapters.vault import KeyVault
from robson_execution.deps import ExecutionDeps, ExecutionService
from robson_execution.entrypoints.api import router
from robson_execution.entrypoints.consumers import consumer_specs
from robson_execution.runtime.executor import Executor
from robson_execution.settings import ExecutionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_service(settings: ExecutionSettings | None = None) -> ExecutionService:
    settings = settings or ExecutionSettings()
    vault = KeyVault.from_sources(settings.master_keys, settings.master_key_file)
    holder: dict[str, Executor] = {}

    async def start(service: ExecutionService) -> None:
        executor = Executor(service, settings, vault)
        holder["executor"] = executor
        service.deps = ExecutionDeps(executor, vault)
        await executor.start()

    async def stop(service: Service) -> None:
        if "executor" in holder:
            await holder["executor"].stop()

    def wake() -> None:
        if "executor" in holder:
            holder["executor"].wake()

    return Service(settings, MIGRATIONS, consumers=consumer_specs(wake), routers=[router],
                   on_start=[start], on_stop=[stop])
