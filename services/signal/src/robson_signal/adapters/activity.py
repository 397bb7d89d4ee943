"""Lockstep replay: does anything on the platform depend on the order in which the next close
times' market data is handled? (``bar_feeds`` streams close times without settling in between
while the answer is no.)

Watched on the bus with plain subscriptions (the messages the services publish; nothing is
stored): order events (an order accepted and not yet filled, canceled, expired or rejected
rests at a venue, so a tick may fill it), position events (an open position reacts to ticks
and candles: stops, take-profits, reviews) and any other message that is not market data
(signals, decisions, gate and risk events, commands, balances: something is going on). The
platform is *idle* when no order rests, no position is open, and nothing but market data was
published since the previous check. Then the ticks and candles of the next close times cannot
cause anything, and the services' durable consumers handle them in stream order whatever the
pace: the same state as in strict lockstep.

Conservative by construction: an unknown message counts as activity, an order or position the
tracker never saw end keeps it busy (strict lockstep, slower, never different), and a tracker
that started after the platform did (a restart of signal mid-replay) never calls the platform
idle (``known`` is False), since it cannot know what is open.

While it is busy, ``tickless`` tells when a close time's ticks can change nothing its candle
does not: no resting order can act anywhere in the range (``may_act_within``, which errs on
yes), and every account holding the symbol has its drawdown and daily-loss watches off (asked
of entry_gate, whose policy it is, through ``watch``; again on each new position; unknown
means no). The backtest leaves such ticks out by the same rule (paper's exact test).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Protocol

from pydantic import ValidationError
from robson_contracts import OrderSpec
from robson_contracts.pricepath import may_act_within
from robson_contracts.subjects import PREFIX
from robson_kit.bus import Bus
from robson_kit.logs import get_logger

log = get_logger(__name__)

WATCHED = tuple(f"{PREFIX}.{domain}.>" for domain in
                ("signal", "decision", "gate", "position", "order", "account"))
ORDER_ENDS = frozenset({"OrderFilled", "OrderCanceled", "OrderExpired", "OrderRejected"})
POSITION_ENDS = frozenset({"PositionClosed", "PositionEntryFailed"})


class AccountWatch(Protocol):
    async def off(self, account_id: str) -> bool:
        """True only when the account's drawdown and daily-loss watches are known to be off."""

    def forget(self, account_id: str) -> None: ...


class Activity:
    def __init__(self, bus: Bus, known: bool = True, watch: AccountWatch | None = None) -> None:
        self.bus = bus
        self.known = known
        """False: started with the platform already running; it may have open positions."""
        self.watch = watch
        self.orders: dict[str, OrderSpec | None] = {}
        """Resting orders by id, with their spec (None: unreadable, so it may always act)."""
        self.positions: dict[str, tuple[str, str]] = {}
        """Open positions by id: (account, symbol)."""
        self.seen = 0
        """Non-market messages since the last ``idle()``."""
        self._subs: list[Any] = []
        self.by_kind: dict[str, int] = {}
        """Messages seen per ``<domain>.<kind>`` (logged at the end of a replay)."""

    async def start(self) -> None:
        for subject in WATCHED:
            self._subs.append(await self.bus.nc.subscribe(subject, cb=self._on_message))

    async def stop(self) -> None:
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:  # connection already closed
                pass
        self._subs.clear()

    async def _on_message(self, msg: Any) -> None:
        self.seen += 1
        subject: str = msg.subject
        kind = ".".join(subject.split(".")[1:3])
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if ".order.evt." not in subject and ".position.evt." not in subject:
            return
        try:
            body = json.loads(msg.data)
            kind = body.get("message_type", "")
        except (ValueError, AttributeError):
            return
        self.on_event(kind, body)

    def on_event(self, kind: str, body: dict[str, Any]) -> None:
        if kind == "OrderAccepted":
            self.orders[str(body.get("order_id"))] = _spec(body.get("order"))
        elif kind == "OrderReplaced":
            self.orders.pop(str(body.get("order_id")), None)
            order = body.get("order") or {}
            self.orders[str(order.get("order_id") or body.get("order_id"))] = _spec(order)
        elif kind in ORDER_ENDS:
            self.orders.pop(str(body.get("order_id")), None)
        elif kind == "PositionOpened":
            account_id = str(body.get("account_id"))
            self.positions[str(body.get("position_id"))] = (account_id, str(body.get("symbol")))
            if self.watch is not None:
                self.watch.forget(account_id)  # its policy is asked again
        elif kind in POSITION_ENDS:
            self.positions.pop(str(body.get("position_id")), None)

    async def tickless(self, ranges: dict[str, tuple[Decimal, Decimal]] | None) -> bool:
        """Called right after a settle (what the platform published has reached the tracker):
        may these symbols' candles go out without their ticks? ``ranges``: each symbol's
        price range over its bars and the gap from its last price (None: not all known)."""
        if not self.known or self.watch is None or not ranges:
            return False
        for spec in self.orders.values():
            if spec is None:
                return False
            reach = ranges.get(spec.symbol)
            if reach is not None and may_act_within(spec, *reach):
                return False
        for account_id, symbol in self.positions.values():
            if symbol in ranges and not await self.watch.off(account_id):
                return False
        return True

    async def idle(self, settled: bool = True) -> bool:
        """Nothing rests, nothing is open, and only market data went by since the last settled
        call. ``settled``: called right after a settle — the flush (a round trip to the
        server, which sends what it has for us before its answer) makes sure the messages
        published until then have reached the tracker, and the count starts again. Unsettled
        (close times streaming), whatever arrived so far counts and is kept for the next
        settled call."""
        if not settled:
            return self.known and self.seen == 0 and not self.orders and not self.positions
        try:
            await self.bus.nc.flush(timeout=5)
        except Exception:
            return False
        seen, self.seen = self.seen, 0
        return self.known and seen == 0 and not self.orders and not self.positions


def _spec(order: Any) -> OrderSpec | None:
    try:
        return OrderSpec.model_validate(order)
    except ValidationError:
        return None
