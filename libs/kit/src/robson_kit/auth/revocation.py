"""Revoked token ids in a JetStream KV bucket: ``robson token revoke`` writes one, every service
watches the bucket and refuses that token from the moment the update arrives (and after any
restart, as the bucket is on disk)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BadRequestError, BucketNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from robson_kit.auth.tokens import MAX_TTL
from robson_kit.logs import get_logger

BUCKET = "robson_revoked"
JTI_PATTERN = re.compile(r"^[A-Za-z0-9_=-]{1,128}$")
RESYNC_SECONDS = 60.0
"""A quiet watcher is re-opened this often (a full re-read), so a revocation missed during a
reconnect is picked up within a minute at worst; normally it applies within milliseconds."""
log = get_logger(__name__)


async def bucket(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        pass
    # Entries outlive every token they could name (a token lives at most MAX_TTL), then expire.
    config = KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE,
                            ttl=(MAX_TTL.total_seconds() + 86400))
    try:
        return await js.create_key_value(config)
    except BadRequestError:  # another process created it first
        return await js.key_value(BUCKET)


async def revoke(js: JetStreamContext, jti: str, subject: str = "", by: str = "") -> None:
    if not JTI_PATTERN.match(jti):
        raise ValueError(f"{jti!r} is not a token id (jti)")
    record = {"jti": jti, "subject": subject, "revoked_by": by,
              "revoked_at": datetime.now(UTC).isoformat()}
    await (await bucket(js)).put(jti, json.dumps(record).encode())


class Revocations:
    """The set of revoked token ids, kept current by ``watch`` (a supervised loop)."""

    def __init__(self) -> None:
        self.revoked: frozenset[str] = frozenset()
        self.ready = asyncio.Event()

    def __contains__(self, jti: str) -> bool:
        return jti in self.revoked

    async def watch(self, js: JetStreamContext) -> None:
        while True:
            await self._watch_once(js)

    async def _watch_once(self, js: JetStreamContext) -> None:
        kv = await bucket(js)
        watcher = await kv.watchall()
        loading: set[str] = set()
        initial = True
        try:
            while True:
                try:
                    entry = await watcher.updates(timeout=RESYNC_SECONDS)
                except nats.errors.TimeoutError:
                    return
                if entry is None:  # the initial values are all in
                    initial = False
                    self.revoked = frozenset(loading)
                    self.ready.set()
                    continue
                deleted = entry.operation in (KV_DEL, KV_PURGE)
                if initial:
                    (loading.discard if deleted else loading.add)(entry.key)
                else:
                    self.revoked = self.revoked - {entry.key} if deleted else self.revoked | {entry.key}
                    log.info("auth.revocation_applied", jti=entry.key, deleted=deleted)
        finally:
            await watcher.stop()
