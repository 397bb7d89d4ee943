"""The platform with notify: a replay across every service, with a signed webhook channel
routed to a local receiver (it checks the HMAC and drops repeats by delivery key). Every
position opened and closed produces exactly one webhook carrying the right figures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from robson_cli.config import apply_config, load_config
from robson_contracts import PositionClosed, PositionOpened
from robson_kit.embedded import free_port
from robson_kit.testing import ServiceProcess, reset_streams, wait_until

from .harness import CONFIG_YAML, Platform, collect

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]
SECRET = "e2e-webhook-secret"


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        self.bad_signatures = 0
        app = web.Application()
        app.router.add_post("/robson", self._receive)
        self._runner = web.AppRunner(app)

    async def start(self) -> Receiver:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Robson-Signature", "")):
            self.bad_signatures += 1
            return web.Response(status=401)
        self.requests.append(json.loads(raw))
        return web.Response(status=200)

    def unique(self) -> dict[str, dict[str, Any]]:
        return {r["delivery_id"]: r for r in self.requests}


@dataclass
class NotifyPlatform(Platform):
    hook_port: int = 0
    notify_env: dict[str, str] = field(default_factory=dict)

    async def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        env = self.env("notify") | {"E2E_HOOK_SECRET": SECRET}
        notify = ServiceProcess("robson_notify", env, "ROBSON_NOTIFY_HTTP_PORT",
                                self.logs / f"notify-{self.run}.log").start()
        await super().start()
        self.procs["notify"] = notify

    async def configure(self) -> list[str]:
        path = self.logs / f"robson-notify-{self.run}.yaml"
        path.write_text(CONFIG_YAML + f"""
notifications:
  channels:
    hook:
      url: "json://127.0.0.1:{self.hook_port}/robson"
      secret_env: E2E_HOOK_SECRET
      rate_per_minute: 6000
      burst: 1000
  routes:
    - channel: hook
      events: [position.opened, position.closed]
""")
        urls = {name: proc.url for name, proc in self.procs.items()}
        return await asyncio.to_thread(apply_config, load_config(path), urls)

    def stop(self) -> None:
        super().stop()
        if "notify" in self.procs:
            self.procs["notify"].stop()


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.stop()


async def test_every_position_opened_and_closed_in_a_replay_is_one_signed_webhook_with_its_figures(
    nats_url: str, database_url: str, dataset, e2e_bus, receiver: Receiver,  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    await reset_streams(e2e_bus)
    platform = NotifyPlatform(nats_url, database_url, dataset, tmp_path_factory.mktemp("logs"),
                              hook_port=receiver.port)
    try:
        await platform.start()
        applied = await platform.configure()
        assert any(line.startswith("notify: notifications on") for line in applied), applied
        await platform.start_feed()
        await platform.wait_finished(e2e_bus)
        outcome = await collect(platform, e2e_bus)
        opened = [e for e in outcome.position_events if isinstance(e, PositionOpened)]
        closed = [e for e in outcome.position_events if isinstance(e, PositionClosed)]
        assert opened and closed

        async def all_received() -> dict[str, dict[str, Any]]:
            got = receiver.unique()
            return got if len(got) >= len(opened) + len(closed) else {}

        await wait_until(all_received, timeout=60, message="a webhook per position event")
        await asyncio.sleep(1.0)  # anything extra would arrive now, and fail the counts below
        hooks = list(receiver.unique().values())
        assert receiver.bad_signatures == 0
        assert len(receiver.requests) == len(hooks) == len(opened) + len(closed)
        by_event = {h["event_id"]: h for h in hooks}
        for e in opened:
            data = by_event[str(e.message_id)]["data"]
            assert by_event[str(e.message_id)]["kind"] == "position.opened"
            assert data["position_id"] == e.position_id and data["side"] == e.side.value
            assert Decimal(data["quantity"]) == e.quantity
            assert Decimal(data["entry_price"]) == e.entry_price
            assert (Decimal(data["stop_loss"]) if data["stop_loss"] else None) == e.stop_loss
        for e in closed:
            data = by_event[str(e.message_id)]["data"]
            assert by_event[str(e.message_id)]["kind"] == "position.closed"
            assert data["position_id"] == e.position_id
            assert Decimal(data["realized_pnl"]) == e.realized_pnl
            assert Decimal(data["exit_price"]) == e.exit_price
            assert data["exit_reason"] == e.exit_reason.value
        positions = {p["position_id"]: p for p in outcome.positions}
        for e in closed:  # the figures people are told are the ones position reports
            assert Decimal(by_event[str(e.message_id)]["data"]["realized_pnl"]) == \
                Decimal(positions[e.position_id]["realized_pnl"])
    finally:
        platform.stop()
