"""`robson dlq` on real NATS: dead letters listed with their reasons and decoded payloads,
replayed to their original subject through the normal path, discarded."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from robson_cli.main import app
from robson_contracts import (
    CheckResult,
    DeadLetter,
    DecisionKind,
    GateDecision,
    GateOutcome,
    SignalDetected,
    TradeDecision,
    derive_id,
    encode,
)
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.deadletter import FIRST_FAILED_HEADER
from robson_kit.testing import read_stream, reset_streams
from typer.testing import CliRunner

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
FIRST = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def signal(signal_id: str) -> SignalDetected:
    return SignalDetected(
        occurred_at=T0, account_id="acc1", signal_id=signal_id, strategy="ema_cross",
        trader_id="trader1", symbol="BTCUSDT", timeframe="5m", direction="LONG",
        strength="0.8", price="64000.5", candle_time=T0,
    )


def gate_decision(outcome: GateOutcome, n: int = 1) -> GateDecision:
    decision = TradeDecision(
        occurred_at=T0, account_id="acc1", decision_id=f"d{n}", trader_id="trader1",
        symbol="BTCUSDT", decision=DecisionKind.LONG, confidence=Decimal("0.8"))
    passed = outcome is GateOutcome.ALLOW_ENTRY
    return GateDecision(
        occurred_at=T0, account_id="acc1", gate_decision_id=f"g{n}", outcome=outcome,
        decision=decision, approved_quantity=Decimal("0.01") if passed else None,
        checks=(CheckResult(rule="cooldown", passed=passed, reason_code="OK" if passed else "COOLDOWN",
                            message="checked"),),
        reason_codes=() if passed else ("COOLDOWN",))


def letter(original: SignalDetected | GateDecision | None, service: str, reason_code: str,
           payload: bytes | None = None) -> DeadLetter:
    raw = encode(original) if original is not None else (payload or b"")
    headers = {**headers_for(original), FIRST_FAILED_HEADER: FIRST.isoformat()} if original else {}
    gate = isinstance(original, GateDecision)
    return DeadLetter(
        message_id=derive_id("test-letter", service, reason_code), occurred_at=T0, service=service,
        consumer=f"{service}_gate" if gate else f"{service}_signals",
        subject=s.gate_decision("acc1", "BTCUSDT") if gate else s.signal("acc1", "BTCUSDT"),
        reason_code=reason_code,
        reason=f"{reason_code} for testing", payload_b64=base64.b64encode(raw).decode(),
        headers=headers, delivered_count=8,
    )


async def _setup(nats_url: str, letters: list[DeadLetter], originals: list[Any]) -> None:
    bus = await Bus(nats_url, name="pytest-dlq").connect()
    try:
        await reset_streams(bus)
        for original in originals:
            await bus.publish(original)
        for dead in letters:
            await bus.publish(dead)
    finally:
        await bus.close()


async def _read(nats_url: str, subject: str) -> list:
    bus = await Bus(nats_url, name="pytest-dlq-read").connect()
    try:
        return await read_stream(bus, subject, raw=True)
    finally:
        await bus.close()


@pytest.fixture
def cli(nats_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NATS_URL", nats_url)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["dlq", *args])
        return result.exit_code, result.output

    return run


def test_dlq_list_json_shows_service_consumer_reason_failures_and_decoded_payload(nats_url: str, cli) -> None:
    original = signal("sig-dead")
    asyncio.run(_setup(nats_url, [letter(original, "decision", "MAX_DELIVERIES"),
                                  letter(None, "paper", "BAD_JSON", payload=b"{not json")], [original]))
    code, out = cli("list", "--json")
    assert code == 0, out
    first, second = json.loads(out)
    assert (first["service"], first["consumer"], first["reason_code"]) == ("decision", "decision_signals", "MAX_DELIVERIES")
    assert first["first_failed_at"] == FIRST.isoformat() and first["last_failed_at"] == T0.isoformat()
    assert first["delivered_count"] == 8 and first["message_type"] == "SignalDetected"
    assert first["payload"]["signal_id"] == "sig-dead"
    assert second["payload"] == "{not json" and second["reason_code"] == "BAD_JSON"
    code, out = cli("list", "--json", "--service", "paper")
    assert [d["service"] for d in json.loads(out)] == ["paper"]
    code, out = cli("show", str(first["id"]), "--json")
    assert code == 0 and json.loads(out) == first
    code, out = cli("list")
    assert code == 0 and "dead letters (2)" in out and "decision" in out and "paper" in out


def test_dlq_replay_republishes_the_original_payload_with_a_new_msg_id_and_removes_the_letter(
    nats_url: str, cli
) -> None:
    original = signal("sig-replay")
    asyncio.run(_setup(nats_url, [letter(original, "decision", "MAX_DELIVERIES")], [original]))
    (entry,) = json.loads(cli("list", "--json")[1])
    code, out = cli("replay", str(entry["id"]), "--json")
    assert code == 0, out
    assert json.loads(out)["replayed_to"] == s.signal("acc1", "BTCUSDT")
    copies = asyncio.run(_read(nats_url, s.ALL_SIGNALS))
    assert [m.data for m in copies] == [encode(original)] * 2  # same message_id: inboxes dedup it
    assert copies[0].headers["Nats-Msg-Id"] != copies[1].headers["Nats-Msg-Id"]
    assert FIRST_FAILED_HEADER not in copies[1].headers
    assert json.loads(cli("list", "--json")[1]) == []
    code, out = cli("replay", str(entry["id"]))
    assert code == 1 and "no dead letter" in out


def test_dlq_discard_deletes_only_that_letter(nats_url: str, cli) -> None:
    asyncio.run(_setup(nats_url, [letter(signal("a"), "decision", "POISON"),
                                  letter(signal("b"), "position", "POISON")], []))
    first, second = json.loads(cli("list", "--json")[1])
    code, out = cli("discard", str(first["id"]))
    assert code == 0, out
    assert [d["id"] for d in json.loads(cli("list", "--json")[1])] == [second["id"]]


def test_dlq_replay_of_a_letter_without_payload_is_refused_and_kept(nats_url: str, cli) -> None:
    asyncio.run(_setup(nats_url, [letter(None, "paper", "PAYLOAD_TOO_LARGE")], []))
    (entry,) = json.loads(cli("list", "--json")[1])
    code, out = cli("replay", str(entry["id"]))
    assert code == 1 and "no payload" in out
    assert len(json.loads(cli("list", "--json")[1])) == 1


def test_dlq_replay_of_an_entry_approval_is_refused_because_the_gate_released_its_risk(
    nats_url: str, cli
) -> None:
    approval, denial = gate_decision(GateOutcome.ALLOW_ENTRY, 1), gate_decision(GateOutcome.DENY_ENTRY, 2)
    asyncio.run(_setup(nats_url, [letter(approval, "position", "UNKNOWN_ACCOUNT"),
                                  letter(denial, "position", "POISON")], []))
    first, second = json.loads(cli("list", "--json")[1])
    code, out = cli("replay", str(first["id"]))
    assert code == 1 and "entry approval (g1)" in out and "discard" in out, out
    assert asyncio.run(_read(nats_url, s.ALL_GATE_DECISIONS)) == []
    assert len(json.loads(cli("list", "--json")[1])) == 2  # kept for the operator to discard
    code, out = cli("replay", str(second["id"]), "--json")  # a denial opens nothing: replayed
    assert code == 0, out
    assert [m.data for m in asyncio.run(_read(nats_url, s.ALL_GATE_DECISIONS))] == [encode(denial)]
