"""What the consumers, the sender and the routes share: the applied config, each channel's
transport and rate limit, and the sender's wake-up."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

import httpx

from robson_notify.adapters import transports
from robson_notify.adapters.transports import ChannelError, Transport
from robson_notify.domain.config import ChannelConfig, NotificationsConfig
from robson_notify.domain.policy import TokenBucket
from robson_notify.settings import NotifySettings


class ConfigRefused(ValueError):
    """Field-named problems with a config (e.g. an unset environment variable)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


class Runtime:
    def __init__(self, settings: NotifySettings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.environ = environ if environ is not None else os.environ
        self.config = NotificationsConfig()
        self.http = httpx.AsyncClient(timeout=settings.send_timeout_seconds,
                                      headers={"User-Agent": transports.USER_AGENT})
        self.channels: dict[str, Transport] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.wakeup = asyncio.Event()

    def wake(self) -> None:
        self.wakeup.set()

    def build(self, cfg: NotificationsConfig, strict: bool = True) -> dict[str, Transport]:
        """Every channel's transport, or ConfigRefused naming each bad field (not strict: the
        channels that can be built; a stored config whose Secret went missing still loads)."""
        built: dict[str, Transport] = {}
        problems: list[tuple[str, str]] = []
        for name, ch in cfg.channels.items():
            try:
                built[name] = self._transport(name, ch)
            except ConfigRefused as exc:
                problems += exc.problems
        if problems and strict:
            raise ConfigRefused(problems)
        return built

    def _transport(self, name: str, ch: ChannelConfig) -> Transport:
        where = f"notifications.channels.{name}"
        url = ch.url
        if ch.url_env is not None:
            url = self.environ.get(ch.url_env)
            if not url:
                raise ConfigRefused([(f"{where}.url_env",
                                      f"environment variable {ch.url_env} is not set in notify")])
        secret = None
        if ch.secret_env is not None:
            secret = self.environ.get(ch.secret_env)
            if not secret:
                raise ConfigRefused([(f"{where}.secret_env",
                                      f"environment variable {ch.secret_env} is not set in notify")])
        assert url is not None
        try:
            transport = transports.build(url, secret, self.http, self.settings.discord_api_url,
                                         self.settings.telegram_api_url)
        except ChannelError as exc:
            field = "url_env" if ch.url_env else "url"
            raise ConfigRefused([(f"{where}.{field}", str(exc))]) from None
        if secret is not None and not isinstance(transport, transports.WebhookTransport):
            raise ConfigRefused([(f"{where}.secret_env", "only json:// and jsons:// webhooks are signed")])
        return transport

    def install(self, cfg: NotificationsConfig, built: dict[str, Transport]) -> None:
        self.config, self.channels = cfg, built
        self.buckets = {name: TokenBucket(ch.rate_per_minute, ch.burst)
                        for name, ch in cfg.channels.items()}
        self.wake()

    def collapses(self, channel: str) -> bool:
        ch = self.config.channels.get(channel)
        if ch is None:
            return False
        if ch.collapse is not None:
            return ch.collapse
        return not getattr(self.channels.get(channel), "idempotent", False)

    async def close(self) -> None:
        await self.http.aclose()
