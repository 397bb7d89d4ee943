"""Composition root of the decision service."""

from __future__ import annotations

from pathlib import Path

from robson_kit import logs
from robson_kit.clock import Clock
from robson_kit.service import Service
from robson_kit.uow import lift_idle_limit

from robson_decision.adapters.llm import ChatClient, LlmConfig
from robson_decision.adapters.loader import load_memory
from robson_decision.adapters.memory import Memory
from robson_decision.deps import DecisionDeps, DecisionService
from robson_decision.entrypoints.api import router
from robson_decision.entrypoints.consumers import consumer_specs
from robson_decision.handlers.ahead import AskAhead
from robson_decision.handlers.approval_timer import ApprovalTimer
from robson_decision.handlers.approvals import earliest_open_window, proceed_due
from robson_decision.handlers.decisions import DecisionHandlers
from robson_decision.handlers.engines import Decider
from robson_decision.settings import DecisionSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = logs.get_logger(__name__)


def build_decider(settings: DecisionSettings, clock: Clock) -> Decider:
    client = None
    if settings.llm_base_url:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        client = ChatClient(
            LlmConfig(
                base_url=settings.llm_base_url,
                api_key=key,
                timeout_seconds=settings.llm_timeout_seconds,
                max_attempts=settings.llm_max_attempts,
                backoff_initial=settings.llm_backoff_initial_seconds,
                backoff_max=settings.llm_backoff_max_seconds,
            )
        )
    return Decider(client, settings.llm_model, replay=settings.llm_mode == "replay", now=clock.now)


def build_service(settings: DecisionSettings | None = None,
                  clock: Clock | None = None) -> DecisionService:
    settings = settings or DecisionSettings()
    service: DecisionService = Service(
        settings,
        MIGRATIONS,
        routers=[router],
        clock=clock,
        on_start=[_load_memory],
        background=[_approval_window],
        on_stop=[_close_llm],
    )
    decider = build_decider(settings, service.clock)
    memory = Memory()
    handlers = DecisionHandlers(decider, service.clock, settings.candles_kept, memory,
                                timer=ApprovalTimer())
    service.deps = DecisionDeps(decider, memory, handlers)
    ahead = AskAhead(decider, memory, service.uow, asked=handlers.asked)
    together = settings.llm_ask_ahead_concurrency if ahead.live else 1  # nothing to ask: in turn
    service.consumer_specs.extend(consumer_specs(handlers, ahead, together))
    return service


async def _load_memory(service: DecisionService) -> None:
    """Before any consumer starts: the context builder reads only this mirror."""
    async with service.engine.connect() as conn:
        await lift_idle_limit(conn)
        await load_memory(conn, service.deps.memory)


async def _approval_window(service: DecisionService) -> None:
    """Pending decisions proceed on their own once their cancel window has passed. The loop
    sleeps until the earliest open window ends (``handlers/approval_timer.py``), sweeping at
    most every ``approval_poll_seconds``."""
    interval = service.settings.approval_poll_seconds  # type: ignore[attr-defined]
    timer = service.deps.handlers.timer
    assert timer is not None, "build_service gives the handlers the loop's timer"
    while True:
        timer.sweeping()
        try:
            async with service.uow() as uow:
                await proceed_due(uow, service.clock.now())
                timer.swept(await earliest_open_window(uow))
        except Exception as exc:  # the loop must survive a database hiccup
            log.warning("approvals.sweep_failed", error=repr(exc))
            timer.swept(service.clock.now())  # look again soon
        await timer.wait(service.clock.now(), interval)


async def _close_llm(service: DecisionService) -> None:
    decider = service.deps.decider
    if decider.client is not None:
        await decider.client.close()
