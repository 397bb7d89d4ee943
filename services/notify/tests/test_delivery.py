"""notify on real NATS + Postgres against fake Discord, Telegram and webhook servers: events
reach every routed channel once, faults are retried as each kind of notice allows."""

from __future__ import annotations

from typing import Any

from robson_contracts import encode
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import apply, channels, config, deliveries
from .events import breach, closed, dead_letter, entry_decision, opened
from .fakes import FakeChatServers


def _settled(rows: list[dict[str, Any]], n: int) -> bool:
    return len(rows) >= n and all(r["status"] in ("DELIVERED", "FAILED") for r in rows)


async def _all_settled(service: Service, n: int) -> list[dict[str, Any]]:
    rows = await deliveries(service)
    return rows if _settled(rows, n) else []


async def test_opened_and_closed_position_reach_discord_telegram_and_webhook_once_each(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, config(fake, ("position.*",)))
    await bus.publish(entry_decision("dec1", "EMA 5 crossed above EMA 13 on rising volume"))
    await wait_until(lambda: _reason_stored(notify), message="reasoning stored")
    await bus.publish(opened(decision_id="dec1"))
    await bus.publish(closed())
    rows = await wait_until(lambda: _all_settled(notify, 6), message="6 deliveries settled")
    assert {r["status"] for r in rows} == {"DELIVERED"}
    assert len(fake.got.discord) == 2 and len(fake.got.telegram) == 2
    hooks = list(fake.got.unique_webhooks().values())
    assert len(fake.got.webhook) == 2 and fake.got.bad_signatures == 0
    by_kind = {h["kind"]: h for h in hooks}
    assert by_kind["position.opened"]["data"]["entry_price"] == "60000"
    assert by_kind["position.opened"]["data"]["stop_loss"] == "59000"
    assert "EMA 5 crossed" in by_kind["position.opened"]["text"]
    assert by_kind["position.closed"]["data"]["realized_pnl"] == "94.5"
    assert any("+94.50 USDT" in m["content"] for m in fake.got.discord)  # the two go in either order
    assert fake.got.telegram[0]["chat_id"] == "-1001"
    assert fake.got.discord[0]["webhook_id"] == "4242"


async def _reason_stored(service: Service) -> bool:
    from robson_notify.adapters import figures
    async with service.uow() as uow:
        return bool(await figures.reasoning(uow.session, "dec1"))


async def test_redelivered_event_adds_no_second_delivery(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, config(fake, ("position.opened",)))
    event = opened()
    await bus.publish(event)
    # the same message again without its Nats-Msg-Id: JetStream keeps it, the inbox drops it
    await bus.publish_raw("robson.position.evt.acc1.BTCUSDT", encode(event), {})
    await bus.publish(opened("p2"))
    await wait_until(lambda: _all_settled(notify, 6), message="deliveries settled")
    await bus.publish(opened("p3"))
    rows = await wait_until(lambda: _all_settled(notify, 9), message="after p3")
    assert len(rows) == 9
    assert len(fake.got.discord) == 3 and len(fake.got.webhook) == 3


async def test_discord_429_with_retry_after_is_retried_and_delivered_once(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"discord": channels(fake)["discord"]},
                         "routes": [{"channel": "discord", "events": ["position.*"]}]})
    fake.faults += ["429:0.3"]
    await bus.publish(opened())
    (row,) = await wait_until(lambda: _all_settled(notify, 1), message="settled")
    assert row["status"] == "DELIVERED" and row["attempts"] == 2
    assert len(fake.got.discord) == 1


async def test_telegram_500_twice_is_delivered_on_the_third_try(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"tg": channels(fake)["telegram"]},
                         "routes": [{"channel": "tg", "events": ["position.*"]}]})
    fake.faults += ["500", "429:0"]
    await bus.publish(opened())
    (row,) = await wait_until(lambda: _all_settled(notify, 1), message="settled", timeout=60)
    assert (row["status"], row["attempts"]) == ("DELIVERED", 3)
    assert len(fake.got.telegram) == 1


async def test_routine_notice_failing_three_times_is_marked_failed_and_never_sent(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"discord": channels(fake)["discord"]},
                         "routes": [{"channel": "discord", "events": ["position.*"]}]})
    fake.faults += ["500", "500", "500"]
    await bus.publish(opened())
    (row,) = await wait_until(lambda: _all_settled(notify, 1), message="settled")
    assert (row["status"], row["attempts"]) == ("FAILED", 3)
    assert "GAVE_UP" in row["last_error"] and fake.got.discord == []
    failed = await deliveries(notify, failed="true")
    assert [f["delivery_id"] for f in failed] == [row["delivery_id"]]


async def test_routine_notice_whose_reply_times_out_is_not_sent_again(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"discord": channels(fake)["discord"]},
                         "routes": [{"channel": "discord", "events": ["position.*"]}]})
    fake.faults += ["slow:2.5"]
    await bus.publish(opened())
    (row,) = await wait_until(lambda: _all_settled(notify, 1), message="settled")
    assert row["status"] == "FAILED" and "UNKNOWN_OUTCOME" in row["last_error"]
    assert len(fake.got.discord) == 1


async def test_critical_notice_whose_reply_times_out_is_resent_and_deduplicated_by_the_receiver(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"hook": channels(fake)["hook"]},
                         "routes": [{"channel": "hook", "min_severity": "critical", "events": ["position.*", "risk.*"]}]})
    fake.faults += ["slow:2.5"]
    await bus.publish(opened())  # routine: not routed (min_severity)
    await bus.publish(breach())
    (row,) = await wait_until(lambda: _all_settled(notify, 1), message="settled")
    assert row["status"] == "DELIVERED" and row["attempts"] == 2 and row["kind"] == "risk.breached"
    assert len(fake.got.webhook) == 2 and len(fake.got.unique_webhooks()) == 1


async def test_critical_notice_to_a_refused_connection_is_delivered_once_the_receiver_is_up(
    bus: Bus, notify: Service
) -> None:
    later = FakeChatServers(b"s3cret")  # its port has no listener yet: connection refused
    await apply(notify, {"channels": {"hook": channels(later)["hook"]},
                         "routes": [{"channel": "hook", "events": ["risk.*", "dlq.*"]}]})
    await bus.publish(breach())
    await wait_until(lambda: _attempted(notify, 2), message="two refused attempts")
    await later.start()
    try:
        (row,) = await wait_until(lambda: _all_settled(notify, 1), message="delivered")
        assert row["status"] == "DELIVERED" and row["attempts"] >= 3
        assert len(later.got.webhook) == 1
    finally:
        await later.stop()


async def _attempted(service: Service, n: int) -> bool:
    rows = await deliveries(service)
    return bool(rows) and rows[0]["attempts"] >= n and rows[0]["status"] == "PENDING"


async def test_webhook_with_a_wrong_secret_is_refused_by_the_receiver_and_fails(
    bus: Bus, notify: Service, fake: FakeChatServers, monkeypatch
) -> None:
    monkeypatch.setenv("TEST_NOTIFY_SECRET", "not-the-receivers-secret")
    await apply(notify, {"channels": {"hook": channels(fake)["hook"]}, "routes": [{"channel": "hook", "events": ["position.*"]}]})
    await bus.publish(opened())
    (row,) = await wait_until(lambda: _all_settled(notify, 1), message="settled")
    assert row["status"] == "FAILED" and "HTTP 401" in row["last_error"]
    assert fake.got.bad_signatures == 1 and fake.got.webhook == []


async def test_dead_letter_notice_is_critical_and_carries_no_payload_or_headers(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, config(fake, ("dlq.*",)))
    await bus.publish(dead_letter())
    rows = await wait_until(lambda: _all_settled(notify, 3), message="settled")
    assert {r["severity"] for r in rows} == {"critical"}
    sent = [d["content"] for d in fake.got.discord] + [t["text"] for t in fake.got.telegram] \
        + [str(w) for w in fake.got.webhook]
    assert len(sent) == 3 and all("position_orders" in s for s in sent)
    assert not any("SUPERSECRET" in s or "apikey" in s for s in sent)


async def test_other_apprise_urls_go_through_apprise_and_its_failures_are_retried(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"push": {"url": f"ntfy://127.0.0.1:{fake.port}/robson-alerts"}},
                         "routes": [{"channel": "push", "events": ["risk.*"]}]})
    fake.faults += ["500"]
    await bus.publish(breach())
    (row,) = await wait_until(lambda: _all_settled(notify, 1), message="settled")
    assert (row["status"], row["attempts"]) == ("DELIVERED", 2)
    (sent,) = fake.got.ntfy
    assert sent["topic"] == "robson-alerts" and "risk limit breached" in sent["title"]
    assert "DAILY_LOSS_LIMIT" in sent["message"]


async def test_venue_approval_lockout_and_reconciliation_events_become_notices(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    import uuid
    from datetime import timedelta

    from robson_contracts import (
        DecisionAwaitingApproval,
        DecisionKind,
        ReconciliationCompleted,
        ReconciliationItem,
        RiskLockoutEnded,
        VenueStatus,
        VenueStatusChanged,
    )

    from .events import T0
    await apply(notify, {"channels": {"hook": channels(fake)["hook"]},
                         "routes": [{"channel": "hook", "events": [
                             "venue.*", "decision.*", "risk.*", "reconciliation.*"]}]})
    common = {"correlation_id": uuid.uuid4(), "occurred_at": T0, "account_id": "acc1"}
    await bus.publish(VenueStatusChanged(**common, venue="binance", status=VenueStatus.UNREACHABLE,
                                         detail="3 requests timed out"))
    await bus.publish(DecisionAwaitingApproval(
        **{**common, "correlation_id": uuid.uuid4()}, decision_id="dec9", trader_id="t1",
        symbol="ETHUSDT", decision=DecisionKind.SHORT, confidence="0.7",
        reasoning="breakdown below the range", expires_at=T0 + timedelta(minutes=2)))
    await bus.publish(RiskLockoutEnded(**{**common, "correlation_id": uuid.uuid4()},
                                       lockout_id="k1", rule="drawdown", kill_switch=True,
                                       reason="ADMIN_UNLOCK", by="alice"))
    await bus.publish(ReconciliationCompleted(
        **{**common, "correlation_id": uuid.uuid4()}, ok=False,
        items=(ReconciliationItem(kind="MISSED_FILL", order_id="o1", action="APPLIED"),)))
    await wait_until(lambda: _all_settled(notify, 4), message="4 settled")
    hooks = {h["kind"]: h for h in fake.got.unique_webhooks().values()}
    assert set(hooks) == {"venue.down", "decision.pending_approval", "risk.kill_switch_reset",
                          "reconciliation.mismatch"}
    assert hooks["venue.down"]["severity"] == "critical"
    assert "robson approve dec9" in hooks["decision.pending_approval"]["text"]
    assert "by alice" in hooks["risk.kill_switch_reset"]["text"]
    assert "MISSED_FILL o1 → APPLIED" in hooks["reconciliation.mismatch"]["text"]
