"""The ``notifications:`` section: channels (an Apprise URL, or the environment variable holding
it) and routes (which kinds, from which severity, of which accounts, go to which channel)."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robson_notify.domain.model import Notice, Severity, kind_matches, valid_pattern

ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelConfig(Strict):
    url: str | None = Field(None, max_length=2000)
    """An Apprise URL (discord://, tgram://, slack://, mailto://, ntfy://, json://, jsons://…)."""
    url_env: EnvName | None = None
    """Or the environment variable (a Kubernetes Secret) holding it: kept out of robson.yaml."""
    secret_env: EnvName | None = None
    """json(s):// only: HMAC-SHA256 key signing the body (X-Robson-Signature)."""
    rate_per_minute: int = Field(30, ge=1, le=6000)
    burst: int = Field(5, ge=1, le=1000)
    collapse: bool | None = None
    """Bursts of one routine kind become one summary; default on, off for json(s):// webhooks."""

    @model_validator(mode="after")
    def _one_source(self) -> ChannelConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        return self


class Route(Strict):
    channel: ChannelName
    events: tuple[str, ...] = Field(("*",), min_length=1, max_length=50)
    min_severity: str = "info"
    accounts: tuple[str, ...] = Field(("*",), min_length=1, max_length=200)

    @field_validator("events")
    @classmethod
    def _known_kinds(cls, events: tuple[str, ...]) -> tuple[str, ...]:
        for e in events:
            if not valid_pattern(e):
                raise ValueError(f"{e!r} matches no event kind (e.g. position.opened, risk.*, *)")
        return events

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        return Severity.parse(value).label

    def matches(self, notice: Notice) -> bool:
        return (notice.severity >= Severity.parse(self.min_severity)
                and any(kind_matches(p, notice.kind) for p in self.events)
                and ("*" in self.accounts or notice.account_id in self.accounts
                     or notice.account_id is None))


class NotificationsConfig(Strict):
    enabled: bool = True
    channels: dict[ChannelName, ChannelConfig] = Field(default_factory=dict, max_length=50)
    routes: tuple[Route, ...] = Field((), max_length=200)
    reset_times: dict[str, str] = Field(default_factory=dict, max_length=1000)
    """Per account, the UTC time its trading day resets (daily summary); default 00:00."""

    @field_validator("reset_times")
    @classmethod
    def _times(cls, value: dict[str, str]) -> dict[str, str]:
        for account, hhmm in value.items():
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", hhmm):
                raise ValueError(f"{account}: {hhmm!r} is not a time HH:MM (UTC)")
        return value

    @model_validator(mode="after")
    def _routes_name_channels(self) -> NotificationsConfig:
        for i, route in enumerate(self.routes):
            if route.channel not in self.channels:
                known = ", ".join(sorted(self.channels)) or "none"
                raise ValueError(f"routes[{i}].channel: {route.channel!r} is not a declared "
                                 f"channel (declared: {known})")
        return self

    def channels_for(self, notice: Notice) -> list[str]:
        if not self.enabled:
            return []
        return sorted({r.channel for r in self.routes if r.matches(notice)})

    def reset_time(self, account_id: str) -> time:
        hh, mm = self.reset_times.get(account_id, "00:00").split(":")
        return time(int(hh), int(mm))
