"""The ``notifications:`` section of robson.yaml, validated with notify's own model (routes to
undeclared channels, unknown event kinds and bad severities are refused naming the field) and
applied through notify's API (which also checks that referenced environment variables and
Secrets exist where notify runs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from robson_notify.domain.config import NotificationsConfig

from robson_cli.client import ServiceClient

if TYPE_CHECKING:
    from robson_cli.config.schema import RobsonConfig

Step = Callable[[ServiceClient], str | None]


def notification_steps(config: RobsonConfig) -> list[tuple[str, Step]]:
    if config.notifications is None:  # absent: whatever notify has stays as it is
        return []
    wanted = config.notifications
    return [("notify", lambda client: _apply(client, wanted))]


def _apply(client: ServiceClient, wanted: NotificationsConfig) -> str | None:
    answer = client.put("/config", wanted.model_dump(mode="json"))
    if not answer["changed"]:
        return None
    state = "on" if wanted.enabled else "off"
    return (f"notifications {state}: {len(wanted.channels)} channel(s), "
            f"{len(wanted.routes)} route(s)")
