"""``GateWatch`` against a local server answering like entry_gate's ``GET /policies/{account}``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from robson_kit.embedded import free_port
from robson_signal.adapters.gate_watch import GateWatch

POLICIES = {"calm": (False, False), "watched": (True, False), "daily": (False, True)}
SEEN: list[tuple[str, str | None]] = []


class _Gate(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN.append((self.path, self.headers.get("Authorization")))
        account = self.path.rsplit("/", 1)[-1]
        if account not in POLICIES:
            self.send_response(500)
            self.end_headers()
            return
        drawdown, daily = POLICIES[account]
        body = json.dumps({"account_id": account, "configured": True, "policy": {
            "drawdown": {"enabled": drawdown}, "daily_loss": {"enabled": daily}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def gate_url() -> Iterator[str]:
    SEEN.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_gate_watch_is_off_only_when_both_loss_watches_are_off(gate_url: str) -> None:
    watch = GateWatch(gate_url, token="t0k")
    try:
        assert await watch.off("calm")
        assert not await watch.off("watched") and not await watch.off("daily")
        assert not await watch.off("broken")  # the gate failed: ticks go out
        assert SEEN[0] == ("/policies/calm", "Bearer t0k")
        asked = len(SEEN)
        assert await watch.off("calm") and len(SEEN) == asked  # remembered
        watch.forget("calm")
        assert await watch.off("calm") and len(SEEN) == asked + 1  # asked again
    finally:
        await watch.close()


async def test_gate_watch_with_the_gate_unreachable_says_the_watch_may_be_on() -> None:
    watch = GateWatch(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    try:
        assert not await watch.off("calm")
    finally:
        await watch.close()
