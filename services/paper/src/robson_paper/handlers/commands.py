"""One handler per order command; each runs the exchange in a turn of the runtime."""

from __future__ import annotations

from robson_contracts import (
    CancelOrder,
    OrderCommand,
    ReplaceOrder,
    SubmitBracketOrder,
    SubmitOcoOrder,
    SubmitOrder,
    TradingMode,
)
from robson_kit.errors import PermanentError
from robson_kit.uow import UnitOfWork

from robson_paper.domain import Exchange, Links, plan_of
from robson_paper.runtime import Runtime


def _check_venue(cmd: OrderCommand) -> None:
    if cmd.venue is not TradingMode.PAPER:
        raise PermanentError("WRONG_VENUE", f"{cmd.message_type} for venue {cmd.venue} sent to paper")


async def handle_command(cmd: OrderCommand, uow: UnitOfWork, runtime: Runtime) -> None:
    _check_venue(cmd)
    apply = _APPLY.get(type(cmd))
    if apply is None:
        raise PermanentError("UNEXPECTED_MESSAGE", f"paper does not handle {type(cmd).__name__}")
    async with runtime.turn(uow, cmd.message_id, cmd.correlation_id, cmd.occurred_at) as ex:
        apply(ex, cmd)


def submit(ex: Exchange, cmd: SubmitOrder) -> None:
    ex.submit(cmd.account_id, cmd.tenant_id, cmd.order, cmd.occurred_at,
              Links(position_id=cmd.position_id))


def submit_oco(ex: Exchange, cmd: SubmitOcoOrder) -> None:
    ex.submit_oco(cmd.account_id, cmd.tenant_id, cmd.list_id, cmd.symbol, cmd.side, cmd.quantity,
                  cmd.stop_order_id, cmd.stop_price, cmd.stop_limit_price,
                  cmd.take_profit_order_id, cmd.take_profit_price, cmd.occurred_at,
                  position_id=cmd.position_id)


def submit_bracket(ex: Exchange, cmd: SubmitBracketOrder) -> None:
    plan = plan_of(cmd.stop_price, cmd.stop_limit_price, cmd.stop_order_id,
                   [(tp.order_id, tp.stop_order_id, tp.price, tp.fraction) for tp in cmd.take_profits],
                   cmd.levels_reference)
    ex.submit_bracket(cmd.account_id, cmd.tenant_id, cmd.list_id, cmd.entry, plan, cmd.occurred_at,
                      position_id=cmd.position_id)


def cancel(ex: Exchange, cmd: CancelOrder) -> None:
    ex.cancel(cmd.account_id, cmd.tenant_id, cmd.symbol, cmd.order_id, cmd.list_id,
              cmd.occurred_at, position_id=cmd.position_id)


def replace(ex: Exchange, cmd: ReplaceOrder) -> None:
    ex.replace(cmd.account_id, cmd.tenant_id, cmd.order_id, cmd.new_order_id, cmd.quantity,
               cmd.price, cmd.stop_price, cmd.occurred_at)


_APPLY = {SubmitOrder: submit, SubmitOcoOrder: submit_oco, SubmitBracketOrder: submit_bracket,
          CancelOrder: cancel, ReplaceOrder: replace}
COMMANDS = tuple(_APPLY)
