"""Durable consumers of execution."""

from __future__ import annotations

from typing import Any

from robson_contracts import subjects as s
from robson_kit.consumer import ConsumerSpec
from robson_kit.errors import PermanentError
from robson_kit.uow import UnitOfWork

from robson_execution.handlers.commands import Wake, make_handlers


def consumer_specs(wake: Wake = lambda: None) -> list[ConsumerSpec]:
    handlers = make_handlers(wake)

    async def dispatch(message: Any, uow: UnitOfWork) -> None:
        handler = handlers.get(type(message))
        if handler is None:
            raise PermanentError("UNEXPECTED_MESSAGE", f"{type(message).__name__} is not an order command")
        await handler(message, uow)

    return [ConsumerSpec("execution_live_orders", s.ORDERS, (s.LIVE_ORDER_COMMANDS,), dispatch,
                         accepts=tuple(handlers))]
