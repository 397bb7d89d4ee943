"""Durable consumers of position."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from nats.js.api import DeliverPolicy
from robson_contracts import (
    Candle,
    CloseAllPositions,
    ClosePosition,
    GateDecision,
    ModifyPosition,
    OrderEvent,
    SymbolRules,
    TradeDecision,
    TradeTick,
)
from robson_contracts import subjects as s
from robson_kit.consumer import ConsumerSpec

from robson_position.handlers.entries import handle_gate_decision
from robson_position.handlers.management import (
    handle_position_command,
    handle_trade_decision,
    is_about_a_position,
)
from robson_position.handlers.market import (
    apply_tick,
    handle_candle,
    handle_tick,
    wants_candle,
)
from robson_position.handlers.orders import handle_order_event
from robson_position.handlers.runtime import Runtime
from robson_position.handlers.venue_rules import handle_symbol_rules


def _bind(handler: Callable[..., Awaitable[None]], rt: Runtime) -> Callable[[Any, Any], Awaitable[None]]:
    return partial(handler, rt=rt)


def consumer_specs(rt: Runtime) -> list[ConsumerSpec]:
    return [
        ConsumerSpec("position_gate", s.GATE, (s.ALL_GATE_DECISIONS,), _bind(handle_gate_decision, rt),
                     accepts=(GateDecision,)),
        # RiskLimitBreached is a report, not a command: the gate's CloseAllPositions is the one
        # actuator, so a kill-switch trip or a flattening breach closes everything once.
        ConsumerSpec("position_orders", s.ORDERS, (s.ALL_ORDER_EVENTS,), _bind(handle_order_event, rt),
                     accepts=(OrderEvent,)),
        ConsumerSpec("position_decisions", s.DECISIONS, (s.ALL_DECISIONS,),
                     _bind(handle_trade_decision, rt), accepts=(TradeDecision,),
                     wants=is_about_a_position),
        ConsumerSpec("position_commands", s.POSITIONS, (s.ALL_POSITION_COMMANDS,),
                     _bind(handle_position_command, rt),
                     accepts=(ClosePosition, CloseAllPositions, ModifyPosition)),
        # A candle on a symbol no position is active on only moves memory: no transaction.
        ConsumerSpec("position_candles", s.MARKET, (s.ALL_CANDLES,), _bind(handle_candle, rt),
                     accepts=(Candle,), wants=partial(wants_candle, rt=rt)),
        # Ticks only move in-memory marks (a price applied twice changes nothing, so no inbox
        # and no transaction: ``wants`` applies each as it is fetched and the kit acks it at
        # once): after downtime the candles catch up, not old ticks. Paced (kit: pull).
        ConsumerSpec("position_ticks", s.MARKET, (s.ALL_TICKS,), _bind(handle_tick, rt),
                     accepts=(TradeTick,), deliver_policy=DeliverPolicy.NEW, record_inbox=False,
                     wants=partial(apply_tick, rt=rt), paced=True),
        # The venues' symbol rules (paper's at start-up, execution's as exchangeInfo changes):
        # the newest per venue and symbol is stored and kept in memory.
        ConsumerSpec("position_venue_rules", s.VENUES, (s.ALL_VENUE_RULES,),
                     _bind(handle_symbol_rules, rt), accepts=(SymbolRules,)),
    ]
