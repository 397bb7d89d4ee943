"""Asking the model ahead: the LLM call of an entry decision, made before the consumer's batch
transaction opens (``ConsumerSpec.prepare``) and recorded at once, so no transaction waits on
the model and no retry or batch split pays for it twice. The handler, inside the transaction,
builds the same context and finds the recorded answer (``engines._asked_before``).

The context is read in a short transaction that ends before the call. Should the inputs change
between here and the handler (a position opened meanwhile), the prompt differs and the handler
asks for itself, as before; the decision is the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from robson_contracts import SignalDetected
from robson_kit.uow import UnitOfWork

from robson_decision.adapters.memory import Memory
from robson_decision.adapters.repository import Repository
from robson_decision.domain.decide import Stamp
from robson_decision.domain.settings import EngineName
from robson_decision.handlers.context import day_start, entry_context
from robson_decision.handlers.engines import Decider

UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


@dataclass
class ShortTransactions:
    """The model-call record, each read or write in a transaction of its own."""

    uow: UowFactory
    repository: Callable[[UnitOfWork], Repository]

    async def recorded_calls(self, prompt_hash: str) -> list[Any]:
        async with self.uow() as uow:
            return await self.repository(uow).recorded_calls(prompt_hash)

    async def add_model_calls(self, rows: list[dict[str, Any]]) -> None:
        async with self.uow() as uow:
            await self.repository(uow).add_model_calls(rows)


@dataclass
class AskAhead:
    decider: Decider
    memory: Memory
    uow: UowFactory
    repository: Callable[[UnitOfWork], Repository] = Repository

    async def on_signal(self, signal: SignalDetected) -> None:
        s = self.memory.trader_settings(signal.trader_id)
        if s.engine is not EngineName.LLM or self.decider.replay or self.decider.client is None:
            return
        async with self.uow() as uow:  # ends before the model is asked
            repo = self.repository(uow)
            ctx = await entry_context(self.memory, repo, signal, s)
            calls = await repo.llm_calls_on(ctx.trader_id, day_start(ctx.as_of))
        record = ShortTransactions(self.uow, self.repository)
        await self.decider.ask_ahead(ctx, s, Stamp.for_signal(signal), record, calls)
