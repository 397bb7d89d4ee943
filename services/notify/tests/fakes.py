"""Local fake servers speaking the real protocols — Discord webhooks, the Telegram Bot API's
sendMessage, and a generic webhook receiver that verifies the HMAC and deduplicates by delivery
key — with injectable faults: 429 + Retry-After, 500, slow replies (timeouts)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from robson_kit.embedded import free_port


@dataclass
class Received:
    discord: list[dict[str, Any]] = field(default_factory=list)
    telegram: list[dict[str, Any]] = field(default_factory=list)
    webhook: list[dict[str, Any]] = field(default_factory=list)
    ntfy: list[dict[str, Any]] = field(default_factory=list)
    """Every accepted webhook request, repeats included."""
    bad_signatures: int = 0

    def unique_webhooks(self) -> dict[str, dict[str, Any]]:
        return {w["delivery_id"]: w for w in self.webhook}


class FakeChatServers:
    """``faults`` is consumed one per request: "429:<seconds>", "500", "slow:<seconds>"
    (accepts, then answers late: the client times out not knowing it arrived)."""

    def __init__(self, secret: bytes = b"s3cret", port: int | None = None) -> None:
        self.secret = secret
        self.port = port or free_port()
        self.faults: list[str] = []
        self.got = Received()
        self.times: list[float] = []
        app = web.Application()
        app.router.add_post("/api/webhooks/{webhook_id}/{token}", self._discord)
        app.router.add_post("/bot{token}/sendMessage", self._telegram)
        app.router.add_post("/hook", self._webhook)
        app.router.add_post("/", self._ntfy)
        self._runner = web.AppRunner(app)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeChatServers:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()

    def _fault(self) -> str | None:
        return self.faults.pop(0) if self.faults else None

    async def _discord(self, request: web.Request) -> web.Response:
        body = await request.json()
        fault = self._fault()
        if fault and fault.startswith("429"):
            after = float(fault.split(":")[1])
            return web.json_response({"message": "You are being rate limited.", "retry_after": after,
                                      "global": False}, status=429,
                                     headers={"Retry-After": str(after)})
        if fault == "500":
            return web.json_response({"message": "500: Internal Server Error", "code": 0}, status=500)
        content = body.get("content")
        if not isinstance(content, str) or not content or len(content) > 2000:
            return web.json_response({"content": ["Must be 2000 or fewer in length."]}, status=400)
        self.got.discord.append({"webhook_id": request.match_info["webhook_id"],
                                 "token": request.match_info["token"], **body})
        await self._slow(fault)
        return web.Response(status=204)

    async def _telegram(self, request: web.Request) -> web.Response:
        body = await request.json()
        fault = self._fault()
        if fault and fault.startswith("429"):
            after = int(float(fault.split(":")[1]))
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": f"Too Many Requests: retry after {after}",
                                      "parameters": {"retry_after": after}}, status=429)
        if fault == "500":
            return web.json_response({"ok": False, "error_code": 500,
                                      "description": "Internal Server Error"}, status=500)
        if "chat_id" not in body or not body.get("text"):
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: message text is empty"}, status=400)
        self.got.telegram.append({"token": request.match_info["token"], **body})
        await self._slow(fault)
        return web.json_response({"ok": True, "result": {
            "message_id": len(self.got.telegram), "chat": {"id": body["chat_id"]},
            "date": 0, "text": body["text"]}})

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        fault = self._fault()
        if fault and fault.startswith("429"):
            return web.Response(status=429, headers={"Retry-After": fault.split(":")[1]})
        if fault == "500":
            return web.Response(status=500)
        expected = "sha256=" + hmac.new(self.secret, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Robson-Signature", "")):
            self.got.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        payload = json.loads(raw)
        if payload["delivery_id"] != request.headers.get("X-Robson-Delivery"):
            return web.Response(status=400, text="delivery key differs from the body")
        self.got.webhook.append(payload)
        self.times.append(asyncio.get_running_loop().time())
        await self._slow(fault)
        return web.Response(status=200)

    async def _ntfy(self, request: web.Request) -> web.Response:
        """ntfy's publish-as-JSON: POST / {"topic", "title", "message"} (what Apprise sends)."""
        body = await request.json()
        if self._fault() == "500":
            return web.json_response({"code": 50001, "http": 500, "error": "internal"}, status=500)
        if not body.get("topic"):
            return web.json_response({"code": 40001, "http": 400, "error": "no topic"}, status=400)
        self.got.ntfy.append(body)
        return web.json_response({"id": str(len(self.got.ntfy)), "event": "message",
                                  "topic": body["topic"], "message": body.get("message", "")})

    async def _slow(self, fault: str | None) -> None:
        if fault and fault.startswith("slow"):
            await asyncio.sleep(float(fault.split(":")[1]))
