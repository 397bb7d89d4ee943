"""Durable consumers of notify. NEW: a first start does not notify the streams' whole history;
after that each resumes where it stopped, so nothing published while notify was down is lost."""

from __future__ import annotations

from functools import partial

from nats.js.api import DeliverPolicy
from robson_contracts import (
    AccountModeChanged,
    DeadLetter,
    DecisionAwaitingApproval,
    GateDecision,
    GateOutcome,
    PositionClosed,
    PositionEntryFailed,
    PositionError,
    PositionModificationRejected,
    PositionModified,
    PositionOpened,
    PositionPartiallyClosed,
    ReconciliationCompleted,
    RiskLimitBreached,
    RiskLockoutEnded,
    TradeDecision,
    TraderStatusChanged,
    VenueStatusChanged,
)
from robson_contracts import subjects as s
from robson_kit.consumer import ConsumerSpec

from robson_notify.handlers.events import handle_event
from robson_notify.runtime import Runtime


def _denials_and_risk(m: object) -> bool:
    return not isinstance(m, GateDecision) or m.outcome is GateOutcome.DENY_ENTRY


def _entries(m: object) -> bool:
    return not isinstance(m, TradeDecision) or (m.decision.is_entry and bool(m.reasoning))


def consumer_specs(runtime: Runtime) -> list[ConsumerSpec]:
    handler = partial(handle_event, runtime=runtime)
    new = DeliverPolicy.NEW
    return [
        ConsumerSpec("notify_positions", s.POSITIONS, (s.ALL_POSITION_EVENTS, s.ALL_TRADER_EVENTS),
                     handler, deliver_policy=new,
                     accepts=(PositionOpened, PositionModified, PositionModificationRejected,
                              PositionPartiallyClosed, PositionClosed, PositionEntryFailed,
                              PositionError, TraderStatusChanged)),
        ConsumerSpec("notify_risk", s.GATE, (s.ALL_RISK_EVENTS, s.ALL_GATE_DECISIONS), handler,
                     deliver_policy=new, wants=_denials_and_risk,
                     accepts=(RiskLimitBreached, RiskLockoutEnded, GateDecision)),
        ConsumerSpec("notify_decisions", s.DECISIONS, (s.ALL_DECISIONS, s.ALL_PENDING_DECISIONS),
                     handler, deliver_policy=new, wants=_entries,
                     accepts=(TradeDecision, DecisionAwaitingApproval)),
        ConsumerSpec("notify_accounts", s.ACCOUNTS, (s.ALL_ACCOUNT_EVENTS,), handler,
                     deliver_policy=new,
                     accepts=(ReconciliationCompleted, VenueStatusChanged, AccountModeChanged)),
        ConsumerSpec("notify_dlq", s.DEAD_LETTERS, (s.ALL_DEAD_LETTERS,), handler,
                     deliver_policy=new, accepts=(DeadLetter,)),
    ]
