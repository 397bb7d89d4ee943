"""A stream spec's per-subject limit reaches JetStream (a "latest value" stream keeps one message
per subject, e.g. the venues' symbol rules); streams without one keep every message."""

from __future__ import annotations

from robson_contracts.subjects import STREAMS
from robson_kit.bus import stream_config


def test_a_latest_value_stream_keeps_one_message_per_subject_and_the_others_all() -> None:
    limits = {spec.name: stream_config(spec).max_msgs_per_subject for spec in STREAMS}
    assert limits["ROBSON_VENUES"] == 1
    assert {name for name, limit in limits.items() if limit != -1} == {"ROBSON_VENUES"}
