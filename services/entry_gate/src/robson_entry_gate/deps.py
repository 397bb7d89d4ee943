"""The entry_gate service typed by what its hooks and routes use: the handlers' deps."""

from __future__ import annotations

from robson_kit.service import Service

from robson_entry_gate.handlers.deps import GateDeps

EntryGateService = Service[GateDeps]
