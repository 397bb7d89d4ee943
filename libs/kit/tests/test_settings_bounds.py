"""Settings that would run but make no sense are refused at start-up with the field named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from robson_kit.settings import ServiceSettings
from sampleapp.app import SampleSettings


@pytest.mark.parametrize(("field", "value"), [
    ("outbox_poll_seconds", 0), ("outbox_poll_seconds", -1),  # the relay spun at 100% of a core
    ("consumer_batch", 0), ("consumer_batch", -1), ("ack_wait_seconds", 0),
    ("max_deliver", 0), ("db_pool_size", 0),
])
def test_nonsense_is_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        ServiceSettings(**{field: value})


def test_nonsense_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBSON_SAMPLE_OUTBOX_POLL_SECONDS", "0")
    with pytest.raises(ValidationError, match="outbox_poll_seconds"):
        SampleSettings()
