"""Untrusted text (LLM reasoning) goes to Slack through Apprise as plain text, escaped, never as
markup (no @channel, no disguised links)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from unittest import mock

from robson_notify.adapters.transports import AppriseTransport
from robson_notify.outgoing import Outgoing


class _Reply:
    status_code, content, text = 200, b"ok", "ok"

    def json(self) -> dict:
        return {"ok": True}


def test_reasoning_with_a_slack_channel_mention_does_not_reach_slack_as_markup() -> None:
    sent: list = []

    def fake(method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(json.loads(kwargs["data"]))
        return _Reply()

    out = Outgoing(uuid.uuid4(), uuid.uuid4(), "position.opened", 10, "main",
                   "[main] opened LONG BTCUSDT",
                   "why: <!channel> buy now <https://evil.example|approve here>",
                   datetime(2024, 1, 1, tzinfo=UTC))
    with mock.patch("requests.request", fake):
        result = asyncio.run(AppriseTransport(
            "slack://T1234ABCD/B1234ABCD/abcdefghijklmnopqrstuvwx").send(out))
    assert result.ok
    text = sent[0]["attachments"][0]["text"]
    assert "<!channel>" not in text and "<https://evil.example|" not in text, text
