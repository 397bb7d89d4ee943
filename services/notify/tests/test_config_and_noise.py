"""The notifications config through the API (refusals name the field), noise control, the
daily summary and `robson notify test`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import asgi_client, wait_until

from .conftest import apply, channels, config, deliveries
from .events import T0, breach, closed, denial, opened
from .fakes import FakeChatServers


async def _put(service: Service, body: dict[str, Any]) -> tuple[int, Any]:
    async with asgi_client(service) as client:
        response = await client.put("/config", json=body)
    return response.status_code, response.json()


def _messages(detail: Any) -> str:
    return " | ".join(f"{d.get('field')}: {d.get('message')}" for d in detail)


async def test_route_to_an_undeclared_channel_is_refused_naming_the_field(
    notify: Service, fake: FakeChatServers
) -> None:
    code, body = await _put(notify, {"channels": channels(fake),
                                     "routes": [{"channel": "hook"}, {"channel": "slack"}]})
    assert code == 422 and "routes[1].channel: 'slack' is not a declared channel" in _messages(body["detail"])


async def test_route_with_unknown_event_kind_or_severity_is_refused_naming_the_field(
    notify: Service, fake: FakeChatServers
) -> None:
    code, body = await _put(notify, {"channels": channels(fake), "routes": [
        {"channel": "hook", "events": ["position.opned"]}]})
    assert code == 422 and "routes.0.events" in _messages(body["detail"])
    assert "position.opned" in _messages(body["detail"])
    code, body = await _put(notify, {"channels": channels(fake), "routes": [
        {"channel": "hook", "min_severity": "loud"}]})
    assert code == 422 and "routes.0.min_severity" in _messages(body["detail"])


async def test_channel_from_an_unset_environment_variable_or_a_bad_url_is_refused(
    notify: Service
) -> None:
    code, body = await _put(notify, {"channels": {"ops": {"url_env": "NOT_SET_ANYWHERE_42"}}})
    assert code == 422
    assert "notifications.channels.ops.url_env: environment variable NOT_SET_ANYWHERE_42" \
        in _messages(body["detail"])
    code, body = await _put(notify, {"channels": {"ops": {"url": "nosuch://x/y"}}})
    assert code == 422 and "notifications.channels.ops.url" in _messages(body["detail"])
    code, body = await _put(notify, {"channels": {"ops": {"url": "tgram://123456789:AAx/1/2"}}})
    assert code == 422 and "exactly one chat" in _messages(body["detail"])
    async with asgi_client(notify) as client:
        assert (await client.get("/config")).json()["channels"] == {}


async def test_config_is_kept_across_a_restart_without_its_inline_urls_in_the_api(
    bus: Bus, notify: Service, fake: FakeChatServers, nats_url: str, database_url: str,
    schema: str
) -> None:
    from robson_notify.main import build_service

    from .conftest import notify_settings
    first = await apply(notify, config(fake))
    assert first["changed"] is True
    assert "discordtoken" not in str(first) and "AAtelegramtoken" not in str(first)
    assert (await apply(notify, config(fake)))["changed"] is False
    await notify.stop()
    again = build_service(notify_settings(nats_url, database_url, schema, fake))
    await again.start()
    try:
        async with asgi_client(again) as client:
            channels_now = (await client.get("/channels")).json()
        assert [(c["name"], c["type"], c["signed"]) for c in channels_now] == [
            ("discord", "discord", False), ("hook", "webhook", True), ("telegram", "telegram", False)]
    finally:
        await again.stop()
        await notify.start()  # the fixture stops it


async def test_burst_of_fifty_gate_denials_collapses_into_a_summary_message(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"discord": {**channels(fake)["discord"],
                                                  "rate_per_minute": 60, "burst": 1}},
                         "routes": [{"channel": "discord", "events": ["gate.denied"]}]})
    for n in range(50):
        await bus.publish(denial(n))
    rows = await wait_until(lambda: _settled(notify, 50), timeout=30, message="50 settled")
    assert {r["status"] for r in rows} == {"DELIVERED"}
    # The first send goes out at once (alone, or already a summary when a loaded host lets
    # several denials queue before it); the rest wait for the bucket and leave as summaries.
    assert 1 <= len(fake.got.discord) <= 3
    summaries = [m for m in fake.got.discord
                 if m["content"].startswith("**") and "× gate.denied" in m["content"]]
    assert summaries
    leads = {r["collapsed_into"] for r in rows if r["collapsed_into"]}
    assert len(leads) == len(summaries)
    covered = sum(int(m["content"][2:].split(" × ")[0]) for m in summaries)
    assert covered + len(fake.got.discord) - len(summaries) == 50  # every denial told once


async def test_critical_notices_are_never_collapsed(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"discord": {**channels(fake)["discord"], "burst": 1,
                                                  "rate_per_minute": 600}},
                         "routes": [{"channel": "discord", "events": ["risk.*"]}]})
    for n in range(4):
        await bus.publish(breach(n=n))
    rows = await wait_until(lambda: _settled(notify, 4), timeout=30, message="4 settled")
    assert all(r["collapsed_into"] is None for r in rows)
    assert len(fake.got.discord) == 4
    for n in range(4):
        assert sum(f"over 3% ({n})" in m["content"] for m in fake.got.discord) == 1


async def _settled(service: Service, n: int) -> list[dict[str, Any]]:
    rows = await deliveries(service)
    return rows if len(rows) >= n and all(r["status"] in ("DELIVERED", "FAILED") for r in rows) else []


async def test_daily_summary_after_the_reset_reports_the_days_pnl_and_open_risk(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"hook": channels(fake)["hook"]},
                         "routes": [{"channel": "hook", "events": ["summary.daily"]}],
                         "reset_times": {"acc1": "06:00"}})
    await bus.publish(opened("p1"))
    await bus.publish(closed("p1", pnl="94.5"))
    await bus.publish(opened("p2"))
    await bus.publish(closed("p3", pnl="-20", when=T0 + timedelta(hours=2)))
    await bus.publish(opened("p4", when=T0 - timedelta(hours=7)))  # 05:00: the previous day
    hooks = await wait_until(lambda: _hooks(fake, 2), message="two daily summaries")
    by_day = {h["data"]["day"]: h["data"] for h in hooks}
    assert by_day["2026-12-01"]["realized_pnl"] == "74.5"
    assert (by_day["2026-12-01"]["closed"], by_day["2026-12-01"]["wins"]) == (2, 1)
    assert by_day["2026-12-01"]["opened"] == 2 and by_day["2026-11-30"]["opened"] == 1
    assert by_day["2026-12-01"]["open_risk"] == "100"  # p2 and p4 still open, 50 each


async def _hooks(fake: FakeChatServers, n: int) -> list[dict[str, Any]]:
    found = list(fake.got.unique_webhooks().values())
    return found if len(found) >= n else []


async def test_notify_test_sends_to_one_channel_and_reports_the_outcome(
    notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, config(fake, ("position.*",)))
    async with asgi_client(notify) as client:
        ok = (await client.post("/channels/telegram/test")).json()
        fake.faults += ["500", "500", "500"]
        bad = (await client.post("/channels/discord/test")).json()
        missing = await client.post("/channels/nope/test")
    assert ok["status"] == "DELIVERED" and ok["kind"] == "test"
    assert len(fake.got.telegram) == 1 and "works" in fake.got.telegram[0]["text"]
    assert bad["attempts"] >= 1 and bad["status"] in ("PENDING", "FAILED")
    assert missing.status_code == 404 and "telegram" in missing.json()["detail"]


async def test_notices_within_the_channels_rate_are_sent_one_by_one_not_collapsed(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    await apply(notify, {"channels": {"discord": {**channels(fake)["discord"],
                                                  "rate_per_minute": 600, "burst": 20}},
                         "routes": [{"channel": "discord", "events": ["position.opened"]}]})
    for n in range(10):
        await bus.publish(opened(f"p{n}"))
    rows = await wait_until(lambda: _settled(notify, 10), timeout=30, message="10 settled")
    assert all(r["collapsed_into"] is None for r in rows)
    assert len(fake.got.discord) == 10


async def test_retention_deletes_settled_deliveries_and_keeps_pending_ones(
    bus: Bus, notify: Service, fake: FakeChatServers
) -> None:
    from robson_notify.adapters import store
    refused = FakeChatServers()  # nobody listens on its port
    await apply(notify, {"channels": {"hook": channels(fake)["hook"],
                                      "down": channels(refused)["hook"]},
                         "routes": [{"channel": "hook", "events": ["position.opened"]},
                                    {"channel": "down", "events": ["risk.*"]}]})
    await bus.publish(opened())
    await bus.publish(breach())

    async def delivered_and_retrying() -> bool:
        rows = {r["channel"]: r for r in await deliveries(notify)}
        return (rows.get("hook", {}).get("status") == "DELIVERED"
                and rows.get("down", {}).get("attempts", 0) >= 1)

    await wait_until(delivered_and_retrying, message="one delivered, one retrying")
    async with notify.uow() as uow:
        assert await store.prune(uow.session, uow.clock.now() + timedelta(days=1)) == 1
    assert [r["channel"] for r in await deliveries(notify)] == ["down"]
