"""Every service refuses, naming the field, an interval that would spin its loop (0 or less)
or a negative one where 0 means off: a start-up error instead of a core spent polling."""

from __future__ import annotations

import importlib

import pytest
from pydantic import ValidationError

BOUNDED = [
    ("execution", "ExecutionSettings", "poll_interval_seconds", 0),
    ("execution", "ExecutionSettings", "reconcile_interval_seconds", 0),
    ("execution", "ExecutionSettings", "submit_idle_seconds", -1),
    ("notify", "NotifySettings", "sender_poll_seconds", 0),
    ("notify", "NotifySettings", "summary_poll_seconds", 0),
    ("decision", "DecisionSettings", "approval_poll_seconds", 0),
    ("entry_gate", "EntryGateSettings", "limits_interval_seconds", 0),
    ("signal", "SignalSettings", "context_poll_seconds", 0),
    ("position", "PositionSettings", "stop_watchdog_interval_seconds", -1),
]


@pytest.mark.parametrize(("service", "cls", "field", "value"), BOUNDED,
                         ids=[f"{s}.{f}" for s, _, f, _ in BOUNDED])
def test_an_interval_that_would_spin_is_refused_naming_the_field(
    service: str, cls: str, field: str, value: float
) -> None:
    settings = getattr(importlib.import_module(f"robson_{service}.settings"), cls)
    with pytest.raises(ValidationError, match=field):
        settings(**{field: value})
    assert getattr(settings(**{field: 1.5}), field) == 1.5


def test_the_stop_watchdog_can_still_be_turned_off_with_zero() -> None:
    from robson_position.settings import PositionSettings

    assert PositionSettings(stop_watchdog_interval_seconds=0).stop_watchdog_interval_seconds == 0
