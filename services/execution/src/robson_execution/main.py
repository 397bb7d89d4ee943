"""Composition root of the execution service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robson_kit.service import Service

from robson_execution.adapters.vault import KeyVault
from robson_execution.deps import ExecutionDeps, ExecutionService
from robson_execution.entrypoints.api import router
from robson_execution.entrypoints.consumers import consumer_specs
from robson_execution.runtime.executor import Executor
from robson_execution.settings import ExecutionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class ExecutorSlot:
    """The executor once the start-up hook has built it (it needs the service). The consumers'
    ``wake`` callback is made before the service exists: it wakes the executor through this
    slot, a no-op until then; the stop hook stops it only if it was built."""

    executor: Executor | None = None

    def wake(self) -> None:
        if self.executor is not None:
            self.executor.wake()

    async def stop(self) -> None:
        if self.executor is not None:
            await self.executor.stop()


def build_service(settings: ExecutionSettings | None = None) -> ExecutionService:
    settings = settings or ExecutionSettings()
    vault = KeyVault.from_sources(settings.master_keys, settings.master_key_file)
    slot = ExecutorSlot()

    async def start(service: ExecutionService) -> None:
        executor = Executor(service, settings, vault)
        slot.executor = executor
        service.deps = ExecutionDeps(executor, vault)
        await executor.start()

    async def stop(service: ExecutionService) -> None:
        await slot.stop()

    return Service(settings, MIGRATIONS, consumers=consumer_specs(slot.wake), routers=[router],
                   on_start=[start], on_stop=[stop])
