"""Every subject and stream name on the bus, in one place.

Hierarchy: ``robson.<domain>.<kind>.<account>.<symbol>`` for account-scoped messages, so a
subscriber can filter by account and symbol with wildcards (``robson.order.evt.acc1.*``).
Market data is shared by everyone: ``robson.market.<kind>.<symbol>[.<timeframe>]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from robson_contracts.base import Message
from robson_contracts.types import Timeframe, TradingMode

PREFIX = "robson"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_days: int = 30
    max_msgs_per_subject: int | None = None
    """Messages kept per subject (None: no limit): 1 makes a stream of latest values, each
    subject holding only what was told last. Applied by the kit's stream provisioning
    (``robson_kit.bus.stream_config``) where it passes it on; a stream that keeps more is
    still correct for its readers, which keep the newest themselves."""


MARKET = StreamSpec("ROBSON_MARKET", (f"{PREFIX}.market.>",), "candles, ticks, market context")
SIGNALS = StreamSpec("ROBSON_SIGNALS", (f"{PREFIX}.signal.>",), "SignalDetected")
DECISIONS = StreamSpec("ROBSON_DECISIONS", (f"{PREFIX}.decision.>",), "TradeDecision")
GATE = StreamSpec("ROBSON_GATE", (f"{PREFIX}.gate.>",), "GateDecision, RiskLimitBreached")
POSITIONS = StreamSpec("ROBSON_POSITIONS", (f"{PREFIX}.position.>",), "position commands/events")
ORDERS = StreamSpec("ROBSON_ORDERS", (f"{PREFIX}.order.>",), "order commands and events")
ACCOUNTS = StreamSpec("ROBSON_ACCOUNTS", (f"{PREFIX}.account.>",), "balances, modes, reconciliation")
DEAD_LETTERS = StreamSpec("ROBSON_DLQ", (f"{PREFIX}.dlq.>",), "dead letters", max_age_days=90)
VENUES = StreamSpec("ROBSON_VENUES", (f"{PREFIX}.venue.>",),
                    "SymbolRules: each venue's rules per symbol, the latest per subject",
                    max_age_days=365, max_msgs_per_subject=1)
"""Latest values: venues tell a symbol's rules when they change, which may be rarely, so they
are kept a year (and, where the kit applies it, only the last one per subject)."""

STREAMS: tuple[StreamSpec, ...] = (MARKET, SIGNALS, DECISIONS, GATE, POSITIONS, ORDERS, ACCOUNTS,
                                   VENUES, DEAD_LETTERS)


def candle(symbol: str, timeframe: Timeframe | str) -> str:
    return f"{PREFIX}.market.candle.{symbol}.{Timeframe(timeframe).value}"


def tick(symbol: str) -> str:
    return f"{PREFIX}.market.tick.{symbol}"


def market_context(symbol: str) -> str:
    return f"{PREFIX}.market.context.{symbol}"


def balance(account_id: str) -> str:
    return f"{PREFIX}.account.balance.{account_id}"


def account_event(account_id: str) -> str:
    return f"{PREFIX}.account.evt.{account_id}"


def signal(account_id: str, symbol: str) -> str:
    return f"{PREFIX}.signal.detected.{account_id}.{symbol}"


def decision(account_id: str, symbol: str) -> str:
    return f"{PREFIX}.decision.made.{account_id}.{symbol}"


def decision_pending(account_id: str, symbol: str) -> str:
    return f"{PREFIX}.decision.pending.{account_id}.{symbol}"


def gate_decision(account_id: str, symbol: str) -> str:
    return f"{PREFIX}.gate.decision.{account_id}.{symbol}"


def risk_event(account_id: str) -> str:
    return f"{PREFIX}.gate.risk.{account_id}"


def position_command(account_id: str) -> str:
    return f"{PREFIX}.position.cmd.{account_id}"


def position_event(account_id: str, symbol: str) -> str:
    return f"{PREFIX}.position.evt.{account_id}.{symbol}"


def trader_event(account_id: str) -> str:
    return f"{PREFIX}.position.trader.{account_id}"


def order_command(venue: TradingMode | str, account_id: str, symbol: str) -> str:
    return f"{PREFIX}.order.cmd.{TradingMode(venue).value.lower()}.{account_id}.{symbol}"


def order_event(account_id: str, symbol: str) -> str:
    return f"{PREFIX}.order.evt.{account_id}.{symbol}"


def venue_rules(venue: TradingMode | str, symbol: str) -> str:
    return f"{PREFIX}.venue.rules.{TradingMode(venue).value.lower()}.{symbol}"


def dead_letter(service: str, consumer: str) -> str:
    return f"{PREFIX}.dlq.{service}.{consumer}"



def account_of(subject: str) -> str | None:
    """The account a subject built above names (its fourth token; order commands put the venue
    first), or None for one that names none (market data, venue rules, dead letters)."""
    tokens = subject.split(".")
    if len(tokens) >= 5 and tokens[1:3] == ["order", "cmd"]:
        return tokens[4]
    if len(tokens) >= 4 and tokens[1] in ("account", "signal", "decision", "gate", "position", "order"):
        return tokens[3]
    return None

# Filters services subscribe with.
ALL_CANDLES = f"{PREFIX}.market.candle.>"
ALL_TICKS = f"{PREFIX}.market.tick.>"
ALL_MARKET_CONTEXT = f"{PREFIX}.market.context.>"
ALL_BALANCES = f"{PREFIX}.account.balance.>"
ALL_ACCOUNT_EVENTS = f"{PREFIX}.account.evt.>"
ALL_SIGNALS = f"{PREFIX}.signal.detected.>"
ALL_DECISIONS = f"{PREFIX}.decision.made.>"
ALL_PENDING_DECISIONS = f"{PREFIX}.decision.pending.>"
ALL_GATE_DECISIONS = f"{PREFIX}.gate.decision.>"
ALL_RISK_EVENTS = f"{PREFIX}.gate.risk.>"
ALL_POSITION_COMMANDS = f"{PREFIX}.position.cmd.>"
ALL_POSITION_EVENTS = f"{PREFIX}.position.evt.>"
ALL_TRADER_EVENTS = f"{PREFIX}.position.trader.>"
PAPER_ORDER_COMMANDS = f"{PREFIX}.order.cmd.paper.>"
LIVE_ORDER_COMMANDS = f"{PREFIX}.order.cmd.live.>"
ALL_ORDER_EVENTS = f"{PREFIX}.order.evt.>"
ALL_VENUE_RULES = f"{PREFIX}.venue.rules.>"
ALL_DEAD_LETTERS = f"{PREFIX}.dlq.>"


def subject_for(message: Message) -> str:
    """The subject a message is published on, derived from its type and fields."""
    from robson_contracts.registry import SUBJECT_RULES

    try:
        rule = SUBJECT_RULES[type(message)]
    except KeyError as exc:
        raise LookupError(f"no subject rule for {type(message).__name__}") from exc
    return rule(message)
