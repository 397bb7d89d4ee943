"""A test-only venue speaking the order contract, until the real `paper` service replaces it.

It consumes ``robson.order.cmd.paper.>`` and answers exactly as the brief agrees: every event
echoes ``position_id``, ``list_id`` and ``role``; a bracket's MARKET entry fills at the current
price, then its children are accepted (one OCO of LIMIT_MAKER take-profit + STOP_MARKET stop per
take-profit fraction, a lone stop for any rest); fees are 0.1% in USDT. Resting orders trigger
when the test moves the price (``move``) and fill at their own price; an OCO fill cancels its
sibling. Event ids are derived from the command so redelivery publishes nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig
from robson_contracts import (
    CancelOrder,
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderRole,
    OrderSpec,
    OrderType,
    ReplaceOrder,
    Side,
    SubmitBracketOrder,
    SubmitOcoOrder,
    SubmitOrder,
    decode,
    derive_id,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus

from .venuebook import VenueBook

FEE = Decimal("0.001")
STEP = Decimal("0.00000001")


@dataclass
class Resting:
    spec: OrderSpec
    account_id: str
    position_id: str | None
    list_id: str | None
    sibling: str | None = None


class FakeVenue:
    def __init__(self, bus: Bus, price: Decimal, at: datetime) -> None:
        self.bus = bus
        self.price = price
        self.at = at
        self.resting: dict[str, Resting] = {}
        self.commands: list[Any] = []
        self.lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.book = VenueBook()
        self.muted = False
        """While muted, events happen at the venue (and in ``book``) but never reach the bus."""
        self.lost: list[Any] = []
        self.taking = asyncio.Event()
        """Cleared, the venue takes no command (they wait in the stream) until it is set again."""
        self.taking.set()
        self.step: Decimal | None = None
        """Set, an order submitted alone or as an OCO whose quantity is not a multiple of it is
        refused (``LOT_SIZE``, as paper with strict filters); an OCO refused at its take-profit
        leg never places its stop. A bracket's children are split by the venue itself."""

    async def start(self) -> FakeVenue:
        await self.bus.js.add_consumer(s.ORDERS.name, ConsumerConfig(
            durable_name="fake_paper", ack_policy=AckPolicy.EXPLICIT, filter_subject=s.PAPER_ORDER_COMMANDS))
        self._sub = await self.bus.js.pull_subscribe_bind("fake_paper", stream=s.ORDERS.name)
        self._stopping = False
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        # The flag ends the loop even when a cancellation is swallowed inside nats' fetch
        # (asyncio.wait_for can lose a cancel that races with a result on Python 3.11).
        self._stopping = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=5)

    async def _run(self) -> None:
        while not self._stopping:
            await self.taking.wait()
            try:
                msgs = await self._sub.fetch(10, timeout=0.2)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                command = decode(msg.data)
                async with self.lock:
                    self.commands.append(command)
                    await self._handle(command)
                await msg.ack()

    def _tick(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    # --- commands --------------------------------------------------------------------------

    async def _handle(self, cmd: Any) -> None:
        if isinstance(cmd, SubmitBracketOrder):
            await self._bracket(cmd)
        elif isinstance(cmd, SubmitOrder):
            if not await self._refused(cmd, cmd.order.order_id, cmd.order.symbol, None,
                                       cmd.order.role, cmd.order.quantity):
                await self._submit(cmd, cmd.order, None, None)
        elif isinstance(cmd, SubmitOcoOrder):
            if not await self._refused(cmd, cmd.take_profit_order_id, cmd.symbol, cmd.list_id,
                                       OrderRole.TAKE_PROFIT, cmd.quantity):
                await self._oco(cmd)
        elif isinstance(cmd, CancelOrder):
            await self._cancel(cmd)
        elif isinstance(cmd, ReplaceOrder):
            await self._replace(cmd)

    async def _bracket(self, cmd: SubmitBracketOrder) -> None:
        entry = cmd.entry
        await self._accept(cmd, entry, cmd.list_id, None)
        await self._fill(cmd, Resting(entry, cmd.account_id, cmd.position_id, cmd.list_id), self.price)
        exit_side = Side.SELL if entry.side is Side.BUY else Side.BUY
        rest = entry.quantity
        for tp in cmd.take_profits:
            qty = (entry.quantity * tp.fraction).quantize(STEP, rounding=ROUND_DOWN)
            rest -= qty
            await self._pair(cmd, f"{cmd.list_id}{tp.order_id[-1]}", exit_side, qty, tp.order_id, tp.price,
                             tp.stop_order_id, cmd.stop_price)
        if rest > 0:
            stop = OrderSpec(order_id=cmd.stop_order_id, symbol=entry.symbol, side=exit_side,
                             type=OrderType.STOP_MARKET, quantity=rest, stop_price=cmd.stop_price,
                             role=OrderRole.STOP_LOSS)
            await self._submit(cmd, stop, cmd.list_id, None)

    async def _refused(self, cmd: Any, order_id: str, symbol: str, list_id: str | None,
                       role: OrderRole | None, quantity: Decimal) -> bool:
        if self.step is None or quantity % self.step == 0:
            return False
        await self._publish(OrderRejected(**self._ev(cmd, "rej", order_id, symbol, list_id,
                                                    cmd.position_id, role),
                                          reason_code="LOT_SIZE",
                                          message=f"quantity {quantity} is not a multiple of step {self.step}"))
        return True

    async def _oco(self, cmd: SubmitOcoOrder) -> None:
        await self._pair(cmd, cmd.list_id, cmd.side, cmd.quantity, cmd.take_profit_order_id,
                         cmd.take_profit_price, cmd.stop_order_id, cmd.stop_price)

    async def _pair(self, cmd: Any, list_id: str, side: Side, qty: Decimal, tp_id: str, tp_price: Decimal,
                    stop_id: str, stop_price: Decimal) -> None:
        symbol = cmd.entry.symbol if isinstance(cmd, SubmitBracketOrder) else cmd.symbol
        tp = OrderSpec(order_id=tp_id, symbol=symbol, side=side, type=OrderType.LIMIT_MAKER, quantity=qty,
                       price=tp_price, role=OrderRole.TAKE_PROFIT)
        stop = OrderSpec(order_id=stop_id, symbol=symbol, side=side, type=OrderType.STOP_MARKET, quantity=qty,
                         stop_price=stop_price, role=OrderRole.STOP_LOSS)
        await self._submit(cmd, tp, list_id, stop_id)
        await self._submit(cmd, stop, list_id, tp_id)

    async def _submit(self, cmd: Any, spec: OrderSpec, list_id: str | None, sibling: str | None) -> None:
        await self._accept(cmd, spec, list_id, None)
        order = Resting(spec, cmd.account_id, cmd.position_id, list_id, sibling)
        if spec.type is OrderType.MARKET:
            await self._fill(cmd, order, self.price)
        else:
            self.resting[spec.order_id] = order

    async def _cancel(self, cmd: CancelOrder) -> None:
        targets = [o for o in self.resting.values()
                   if o.spec.order_id == cmd.order_id or (cmd.list_id and o.list_id == cmd.list_id)]
        if not targets:
            await self._publish(OrderRejected(**self._ev(cmd, "rej", cmd.order_id or cmd.list_id, cmd.symbol,
                                                        None, cmd.position_id, None),
                                              reason_code="UNKNOWN_ORDER", message="nothing to cancel"))
        for order in targets:
            await self._canceled(cmd, order, "canceled by request")

    async def _replace(self, cmd: ReplaceOrder) -> None:
        old = self.resting.pop(cmd.order_id, None)
        if old is None:
            await self._publish(OrderRejected(**self._ev(cmd, "rej", cmd.order_id, cmd.symbol, None,
                                                        cmd.position_id, None),
                                              reason_code="UNKNOWN_ORDER", message="nothing to replace"))
            return
        spec = old.spec.model_copy(update={
            "order_id": cmd.new_order_id, "quantity": cmd.quantity or old.spec.quantity,
            "price": cmd.price or old.spec.price, "stop_price": cmd.stop_price or old.spec.stop_price})
        new = Resting(spec, old.account_id, old.position_id, old.list_id, old.sibling)
        self.resting[spec.order_id] = new
        if old.sibling and old.sibling in self.resting:
            self.resting[old.sibling].sibling = spec.order_id
        await self._publish(OrderReplaced(**self._ev(cmd, "replaced", cmd.order_id, spec.symbol, old.list_id,
                                                     old.position_id, spec.role), order=spec))

    def drop(self, order_id: str) -> None:
        """The venue loses a resting order without a word (reset, or removed by hand)."""
        self.resting.pop(order_id, None)
        self.book.forget(order_id)

    # --- market ----------------------------------------------------------------------------

    async def move(self, price: Decimal | str, at: datetime | None = None) -> None:
        """The market trades at ``price``: resting orders that it reaches fill at their price."""
        async with self.lock:
            self.price = Decimal(price)
            if at is not None:
                self.at = at
            for order in list(self.resting.values()):
                if order.spec.order_id in self.resting and self._triggered(order.spec):
                    del self.resting[order.spec.order_id]
                    level = order.spec.stop_price or order.spec.price or self.price
                    await self._fill(None, order, level)
                    sibling = self.resting.get(order.sibling or "")
                    if sibling is not None:
                        await self._canceled(None, sibling, "OCO sibling filled")

    def _triggered(self, spec: OrderSpec) -> bool:
        sell = spec.side is Side.SELL
        if spec.type is OrderType.STOP_MARKET:
            return self.price <= spec.stop_price if sell else self.price >= spec.stop_price
        return self.price >= spec.price if sell else self.price <= spec.price

    # --- events ----------------------------------------------------------------------------

    def _ev(self, cmd: Any, kind: str, order_id: str, symbol: str, list_id: str | None,
            position_id: str | None, role: OrderRole | None) -> dict[str, Any]:
        cause = cmd.message_id if cmd is not None else f"market-{self.price}-{self.at.isoformat()}"
        base = cmd.caused() if cmd is not None else {}
        account = cmd.account_id if cmd is not None else self._account
        return {**base, "message_id": derive_id("fake-venue", kind, order_id, cause),
                "occurred_at": self._tick(), "account_id": account, "venue": "PAPER",
                "order_id": order_id, "symbol": symbol, "list_id": list_id, "position_id": position_id,
                "role": role}

    async def _accept(self, cmd: Any, spec: OrderSpec, list_id: str | None, parent: str | None) -> None:
        self._account = cmd.account_id
        await self._publish(OrderAccepted(**self._ev(cmd, "accepted", spec.order_id, spec.symbol, list_id,
                                                     cmd.position_id, spec.role), order=spec,
                                          parent_order_id=parent))

    async def _fill(self, cmd: Any, order: Resting, price: Decimal) -> None:
        self._account = order.account_id
        spec = order.spec
        at = self._tick()
        fill = Fill(fill_id=f"fill-{spec.order_id}"[:64], price=price, quantity=spec.quantity,
                    fee=(price * spec.quantity * FEE), fee_asset="USDT", liquidity="TAKER", filled_at=at)
        await self._publish(OrderFilled(**self._ev(cmd, "filled", spec.order_id, spec.symbol, order.list_id,
                                                   order.position_id, spec.role),
                                        side=spec.side, fill=fill, cumulative_quantity=spec.quantity,
                                        average_price=price, remaining_quantity=Decimal(0)))

    async def _canceled(self, cmd: Any, order: Resting, reason: str) -> None:
        self.resting.pop(order.spec.order_id, None)
        self._account = order.account_id
        await self._publish(OrderCanceled(**self._ev(cmd, "canceled", order.spec.order_id, order.spec.symbol,
                                                     order.list_id, order.position_id, order.spec.role),
                                          reason=reason, remaining_quantity=order.spec.quantity))

    async def _publish(self, event: Any) -> None:
        self.book.record(event)
        if self.muted:
            self.lost.append(event)
        else:
            await self.bus.publish(event)

    _account: str = "default"
