"""What the decision service's hooks and routes use, and the service typed by it."""

from __future__ import annotations

from dataclasses import dataclass

from robson_kit.service import Service

from robson_decision.adapters.memory import Memory
from robson_decision.handlers.decisions import DecisionHandlers
from robson_decision.handlers.engines import Decider


@dataclass(frozen=True)
class DecisionDeps:
    decider: Decider
    memory: Memory
    handlers: DecisionHandlers


DecisionService = Service[DecisionDeps]
