"""What the execution service's hooks and routes use, and the service typed by it."""

from __future__ import annotations

from dataclasses import dataclass

from robson_kit.service import Service

from robson_execution.adapters.vault import KeyVault
from robson_execution.runtime.executor import Executor


@dataclass(frozen=True)
class ExecutionDeps:
    executor: Executor
    vault: KeyVault


ExecutionService = Service[ExecutionDeps]
