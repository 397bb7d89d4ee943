"""A local OpenAI-compatible chat-completions server (real HTTP on a loopback port).

Tests script its answers per trader: a queue of behaviours consumed one per request, the last
one repeating. Every request body is kept, so retries are observed on the wire.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Reply:
    content: str | None = None
    status: int = 200
    delay: float = 0.0
    body: str | None = None
    """A raw body instead of a chat completion (for protocol errors)."""
    retry_after: str | None = None
    """``Retry-After`` header of a failure (seconds or an HTTP date)."""


def answer(doc: dict[str, Any] | str) -> Reply:
    return Reply(content=doc if isinstance(doc, str) else json.dumps(doc))


@dataclass
class FakeLlm:
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    """Monotonic arrival time of each request, in the order of ``requests``."""
    in_flight: int = 0
    """Requests received and not answered yet."""
    most_in_flight: int = 0
    """The most requests ever in flight at once."""
    answered: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, trader_id: str, *replies: Reply) -> None:
        self.scripts[trader_id] = list(replies)

    def requests_for(self, trader_id: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if _trader(r) == trader_id]

    def arrivals_for(self, trader_id: str) -> list[float]:
        return [t for r, t in zip(self.requests, self.arrived, strict=True) if _trader(r) == trader_id]

    async def start(self) -> FakeLlm:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.arrived.append(time.monotonic())
        queue = self.scripts.get(_trader(body) or "", [])
        reply = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else Reply(status=503)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            self.in_flight -= 1
            self.answered += 1
        if reply.status != 200:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after else None
            return web.json_response(
                {"error": {"message": "scripted failure"}}, status=reply.status, headers=headers
            )
        if reply.body is not None:
            return web.Response(text=reply.body, content_type="application/json")
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": reply.content},
                    }
                ],
                "usage": {
                    "prompt_tokens": len(json.dumps(body)) // 4,
                    "completion_tokens": 42,
                    "total_tokens": len(json.dumps(body)) // 4 + 42,
                },
            }
        )


def _trader(body: dict[str, Any]) -> str | None:
    try:
        return json.loads(body["messages"][-1]["content"])["trader_id"]
    except (KeyError, IndexError, ValueError, TypeError):
        return None
