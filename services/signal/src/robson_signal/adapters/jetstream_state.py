"""What the lockstep reads of JetStream, as plain data: the watched streams' last sequences,
a stream's service consumers, and the next message on a subject. Requests go straight to the
JetStream API and their JSON is read as it comes: a reading needs a few numbers of each stream
and consumer, and nats-py's typed infos (every config field converted) cost more CPU than the
round trip, on the lockstep's critical path."""

from __future__ import annotations

import json
from typing import Any

from nats.js.errors import APIError
from robson_kit.backlog import WATCHED
from robson_kit.bus import Bus

JS_API = "$JS.API"


class JetStreamState:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def _api(self, subject: str, body: bytes = b'{"offset":0}') -> dict[str, Any]:
        msg = await self.bus.nc.request(f"{JS_API}.{subject}", body, timeout=5)
        resp: dict[str, Any] = json.loads(msg.data)
        return resp

    async def _list(self, subject: str) -> dict[str, Any]:
        resp = await self._api(subject)
        if "error" in resp:
            raise APIError.from_error(resp["error"])
        return resp

    async def sequences(self) -> dict[str, int]:
        """The last sequence of every watched stream that exists."""
        names = {s.name for s in WATCHED}
        return {i["config"]["name"]: i["state"].get("last_seq") or 0
                for i in (await self._list("STREAM.LIST")).get("streams") or ()
                if i["config"]["name"] in names}

    async def consumers_of(self, stream: str) -> list[dict[str, Any]]:
        """The stream's durable, explicitly acknowledged consumers (the services')."""
        return [c for c in (await self._list(f"CONSUMER.LIST.{stream}")).get("consumers") or ()
                if c["config"].get("durable_name") and c["config"].get("ack_policy") == "explicit"]

    async def next_on(self, stream: str, start: int, subject: str) -> int | None:
        """The stream sequence of the first message on ``subject`` at or after ``start``."""
        resp = await self._api(f"STREAM.MSG.GET.{stream}",
                               json.dumps({"seq": start, "next_by_subj": subject}).encode())
        error = resp.get("error")
        if error is not None:
            if error.get("code") == 404:
                return None
            raise APIError.from_error(error)
        return int(resp["message"]["seq"])


def filters_of(consumer: dict[str, Any]) -> tuple[str, ...]:
    """A consumer's filter subjects, as listed (empty: the whole stream)."""
    config = consumer["config"]
    return tuple(config.get("filter_subjects") or ()) or (
        (config["filter_subject"],) if config.get("filter_subject") else ())


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` the rest (one token or more)."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)
