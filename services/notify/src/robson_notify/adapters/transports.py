"""Channels: each turns one outgoing notice into one request and reports what happened.

Apprise parses every channel URL. Discord (discord://), Telegram (tgram://) and the generic JSON
webhook (json://, jsons://) are then sent by notify itself with httpx, because Apprise's plugins
report only success or failure: notify needs the HTTP status to honour 429 ``Retry-After``, to
tell "refused" from "maybe sent" (at-most-once for routine notices), and, for webhooks, to sign
the exact body bytes (HMAC-SHA256) and send an idempotency key. Every other Apprise URL (Slack,
e-mail, ntfy, …) goes through Apprise itself, where a failure counts as "not sent".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import apprise
import httpx

from robson_notify.domain.policy import SendResult
from robson_notify.outgoing import Outgoing

USER_AGENT = "robson-notify/1"


class Transport(Protocol):
    idempotent: bool
    """The receiver can drop a repeat by its delivery key (X-Robson-Delivery)."""

    async def send(self, out: Outgoing) -> SendResult: ...


class ChannelError(ValueError):
    """A channel URL notify cannot use; the message names what is wrong, never the secret."""


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                from datetime import UTC, datetime
                return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
            except (TypeError, ValueError):
                pass
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):  # Discord: retry_after; Telegram: parameters.retry_after
        found = body.get("retry_after") or (body.get("parameters") or {}).get("retry_after")
        if isinstance(found, int | float):
            return float(found)
    return None


async def post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> SendResult:
    try:
        response = await client.post(url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return SendResult(False, error=f"CONNECT_FAILED ({type(exc).__name__})")
    except httpx.TimeoutException as exc:
        return SendResult(False, error=f"TIMEOUT ({type(exc).__name__})", sent=True)
    except httpx.HTTPError as exc:  # the connection broke mid-request: maybe it arrived
        return SendResult(False, error=f"TRANSPORT ({type(exc).__name__})", sent=True)
    code = response.status_code
    if 200 <= code < 300:
        return SendResult(True, status=code)
    if code == 429:
        return SendResult(False, status=code, retry_after=retry_after(response), error="HTTP 429")
    if code >= 500 or code == 408:
        return SendResult(False, status=code, retry_after=retry_after(response), error=f"HTTP {code}")
    return SendResult(False, status=code, error=f"HTTP {code}", permanent=True)


@dataclass
class DiscordTransport:
    client: httpx.AsyncClient
    api: str
    webhook_id: str
    token: str
    idempotent: bool = False

    async def send(self, out: Outgoing) -> SendResult:
        content = f"**{out.title}**\n{out.text}"[:2000]
        return await post(self.client, f"{self.api}/api/webhooks/{self.webhook_id}/{self.token}",
                          json={"content": content, "username": "Robson",
                                "allowed_mentions": {"parse": []}})


@dataclass
class TelegramTransport:
    client: httpx.AsyncClient
    api: str
    bot_token: str
    chat_id: str
    idempotent: bool = False

    async def send(self, out: Outgoing) -> SendResult:
        text = f"{out.title}\n{out.text}"[:4096]
        return await post(self.client, f"{self.api}/bot{self.bot_token}/sendMessage",
                          json={"chat_id": self.chat_id, "text": text,
                                "disable_web_page_preview": True})


@dataclass
class WebhookTransport:
    client: httpx.AsyncClient
    url: str
    secret: bytes | None
    idempotent: bool = True

    async def send(self, out: Outgoing) -> SendResult:
        body = json.dumps(out.payload(), sort_keys=True, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-Robson-Delivery": str(out.delivery_id), "X-Robson-Event": out.kind}
        if self.secret is not None:
            headers["X-Robson-Signature"] = "sha256=" + sign(self.secret, body)
        return await post(self.client, self.url, content=body, headers=headers)


def sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


_TYPES = {30: apprise.NotifyType.FAILURE, 20: apprise.NotifyType.WARNING}


@dataclass
class AppriseTransport:
    url: str
    idempotent: bool = False

    async def send(self, out: Outgoing) -> SendResult:
        apobj = apprise.Apprise()
        if not apobj.add(self.url):
            return SendResult(False, error="INVALID_URL", permanent=True)
        # plain text, declared so: each plugin escapes it for its own markup (Slack's <!channel>,
        # links, HTML e-mail) instead of rendering what an event's text fields carry
        ok = await asyncio.to_thread(apobj.notify, body=out.text, title=out.title,
                                     notify_type=_TYPES.get(out.severity, apprise.NotifyType.INFO),
                                     body_format=apprise.NotifyFormat.TEXT)
        return SendResult(bool(ok), error="" if ok else "APPRISE_FAILED")


def build(url: str, secret: str | None, client: httpx.AsyncClient, discord_api: str,
          telegram_api: str) -> Transport:
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise ChannelError("not an Apprise URL notify can use (e.g. discord://id/token, "
                           "tgram://bot_token/chat_id, json://host/path)")
    schema = url.split("://", 1)[0].lower()
    if schema == "discord":
        return DiscordTransport(client, discord_api.rstrip("/"), plugin.webhook_id,
                                plugin.webhook_token)
    if schema == "tgram":
        if len(plugin.targets) != 1:
            raise ChannelError("a tgram:// channel names exactly one chat (declare one channel per chat)")
        return TelegramTransport(client, telegram_api.rstrip("/"), plugin.bot_token,
                                 str(plugin.targets[0][0]))
    if schema in ("json", "jsons"):
        scheme = "https" if schema == "jsons" else "http"
        port = f":{plugin.port}" if plugin.port else ""
        return WebhookTransport(client, f"{scheme}://{plugin.host}{port}{plugin.fullpath or '/'}",
                                secret.encode() if secret else None)
    return AppriseTransport(url)
