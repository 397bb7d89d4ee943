"""User data stream over Binance's WebSocket API (``userDataStream.subscribe.signature``).

Runs until cancelled; reconnects with backoff. ``on_event`` gets each ``executionReport``;
``on_state`` is told when the stream goes up or down, so the service can poll REST meanwhile
and catch up after a reconnect.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import websockets
from robson_kit import logs

from robson_execution.adapters.vault import ApiCredentials
from robson_execution.domain.backoff import backoff_delay

log = logs.get_logger(__name__)
EventHandler = Callable[[dict[str, Any]], Awaitable[None]]
StateHandler = Callable[[bool], Awaitable[None]]


def local_ms() -> int:
    return int(time.time() * 1000)


def signed_subscribe(creds: ApiCredentials, now_ms: Callable[[], int] = local_ms) -> dict[str, Any]:
    params: dict[str, Any] = {"apiKey": creds.api_key, "timestamp": now_ms()}
    payload = urlencode(sorted(params.items()))
    params["signature"] = hmac.new(creds.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return {"id": str(uuid.uuid4()), "method": "userDataStream.subscribe.signature", "params": params}


async def run_user_stream(url: str, creds: ApiCredentials, on_event: EventHandler,
                          on_state: StateHandler, max_backoff: float = 5.0,
                          now_ms: Callable[[], int] = local_ms) -> None:
    """``now_ms`` stamps the signed subscription: the exchange-synced clock of the gateway."""
    attempt = 0
    while True:
        try:
            async with websockets.connect(url, open_timeout=5, ping_interval=20) as ws:
                await ws.send(json.dumps(signed_subscribe(creds, now_ms)))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if reply.get("status") != 200:
                    raise ConnectionError(f"subscribe refused: {reply.get('error')}")
                attempt = 0
                await on_state(True)
                async for raw in ws:
                    message = json.loads(raw)
                    event = message.get("event")
                    if isinstance(event, dict) and event.get("e") == "executionReport":
                        await on_event(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("user_stream.down", error=f"{type(exc).__name__}: {exc}")
        await on_state(False)
        attempt += 1
        await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=max_backoff) + 0.1)
