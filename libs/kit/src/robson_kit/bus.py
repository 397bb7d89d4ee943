"""JetStream connection, stream provisioning and publishing with ``Nats-Msg-Id``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from robson_contracts import Message, encode, subject_for
from robson_contracts.registry import TYPE_HEADER, VERSION_HEADER
from robson_contracts.subjects import STREAMS, StreamSpec

from robson_kit import nats_headers
from robson_kit.logs import get_logger

log = get_logger(__name__)
nats_headers.install()

DUPLICATE_WINDOW_SECONDS = 10 * 60


def headers_for(message: Message) -> dict[str, str]:
    return {
        "Nats-Msg-Id": str(message.message_id),
        TYPE_HEADER: message.message_type,  # type: ignore[attr-defined]
        VERSION_HEADER: str(message.schema_version),
        "Robson-Correlation-Id": str(message.correlation_id),
    }


def stream_config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=spec.max_age_days * 86400,
        max_msgs_per_subject=spec.max_msgs_per_subject or -1,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


class Bus:
    """One NATS connection per process, shared by publishers, consumers and the relay."""

    def __init__(self, url: str, name: str = "robson") -> None:
        self.url = url
        self.name = name
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None

    @property
    def nc(self) -> NatsClient:
        if self._nc is None:
            raise RuntimeError("bus is not connected")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("bus is not connected")
        return self._js

    @property
    def max_payload(self) -> int:
        """The connected server's limit for one message (payload and headers)."""
        return self.nc.max_payload

    @property
    def is_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self, timeout: float = 10.0) -> Bus:
        self._nc = await nats.connect(
            self.url,
            name=self.name,
            connect_timeout=timeout,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            drain_timeout=2,
        )
        self._js = self._nc.jetstream(timeout=timeout)
        return self

    async def close(self) -> None:
        """Flush what is buffered (acks, publishes) and close. No drain: a drain waits on every
        pull subscription and can stall shutdown; every publish we rely on was already acked."""
        nc, self._nc, self._js = self._nc, None, None
        if nc is None or nc.is_closed:
            return
        try:
            await nc.flush(timeout=2)
        except Exception as exc:
            log.warning("bus.flush_failed", error=repr(exc))
        try:
            await asyncio.wait_for(nc.close(), timeout=5)
        except Exception as exc:
            log.warning("bus.close_failed", error=repr(exc))

    async def ensure_streams(self, specs: Iterable[StreamSpec] = STREAMS) -> None:
        """Idempotent: create missing streams, update changed ones."""
        for spec in specs:
            config = stream_config(spec)
            try:
                await self.js.stream_info(spec.name)
            except NotFoundError:
                await self.js.add_stream(config)
                log.info("stream.created", stream=spec.name)
            else:
                await self.js.update_stream(config)

    async def publish(self, message: Message, subject: str | None = None, timeout: float = 5.0) -> int:
        """Publish and wait for the stream's ack; returns the stream sequence.

        JetStream drops a second publish with the same ``Nats-Msg-Id`` inside the duplicate
        window, so retrying a publish never duplicates the message.
        """
        return await self.publish_raw(
            subject or subject_for(message), encode(message), headers_for(message), timeout
        )

    async def publish_raw(
        self, subject: str, payload: bytes, headers: dict[str, str], timeout: float = 5.0
    ) -> int:
        ack = await self.js.publish(subject, payload, headers=headers, timeout=timeout)
        return ack.seq

