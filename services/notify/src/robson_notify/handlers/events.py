"""Every consumed event: keep the day's figures, render a notice, queue one delivery per routed
channel, all in the consumer's transaction (with the inbox record)."""

from __future__ import annotations

from robson_contracts import Message, PositionOpened, TradeDecision
from robson_kit.uow import UnitOfWork

from robson_notify.adapters import figures, store
from robson_notify.domain.notices import notice_for
from robson_notify.runtime import Runtime


async def handle_event(message: Message, uow: UnitOfWork, runtime: Runtime) -> None:
    if isinstance(message, TradeDecision):  # only its reasoning, for the PositionOpened notice
        if message.reasoning:
            await figures.remember_reasoning(uow.session, message.decision_id, message.reasoning,
                                             message.occurred_at)
        return
    account = getattr(message, "account_id", None)
    if account is not None:
        await figures.record(uow.session, message, runtime.config.reset_time(account),
                             uow.clock.now())
    reasoning = ""
    if isinstance(message, PositionOpened):
        reasoning = await figures.reasoning(uow.session, message.decision_id)
    notice = notice_for(message, reasoning)
    if notice is None:
        return
    channels = runtime.config.channels_for(notice)
    if channels and await store.add_deliveries(uow.session, notice, channels, uow.clock.now()):
        uow.after_commit(runtime.wake)
