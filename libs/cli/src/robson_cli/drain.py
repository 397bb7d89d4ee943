"""Has the pipeline drained? Every durable consumer has nothing pending or unacked, every
service's outbox is empty, and no stream grew since the last look."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import httpx
import nats
from robson_kit.backlog import bus_backlog

OUTBOX_PENDING = re.compile(r"^robson_outbox_pending\{[^}]*\}\s+([0-9.eE+-]+)$", re.MULTILINE)


@dataclass(frozen=True)
class Backlog:
    pending: int
    """Messages not yet delivered or not yet acked, over the services' consumers."""
    outbox: int
    """Committed events not yet published, over every service."""
    published: int
    """Sum of the streams' last sequence numbers: grows while anything is still flowing."""

    @property
    def idle(self) -> bool:
        return self.pending == 0 and self.outbox == 0


async def _bus_backlog(nats_url: str) -> tuple[int, int]:
    nc = await nats.connect(nats_url, name="robson-cli-drain", connect_timeout=5, max_reconnect_attempts=1)
    try:
        found = await bus_backlog(nc.jetstream())
        return found.pending, sum(found.sequences)
    finally:
        await nc.close()


def outbox_pending(urls: dict[str, str]) -> int:
    total = 0
    for url in urls.values():
        try:
            text = httpx.get(f"{url}/metrics", timeout=5).text
        except httpx.HTTPError:
            return -1  # unknown: not drained
        total += sum(int(float(v)) for v in OUTBOX_PENDING.findall(text))
    return total


def backlog(nats_url: str, urls: dict[str, str]) -> Backlog:
    pending, published = asyncio.run(_bus_backlog(nats_url))
    return Backlog(pending, outbox_pending(urls), published)


def wait_drained(nats_url: str, urls: dict[str, str], timeout: float = 600.0,
                 interval: float = 1.0, quiet_checks: int = 2) -> Backlog:
    """Blocks until ``quiet_checks`` consecutive looks find nothing pending and nothing new."""
    deadline = time.monotonic() + timeout
    last: Backlog | None = None
    quiet = 0
    while True:
        now = backlog(nats_url, urls)
        quiet = quiet + 1 if now.idle and last is not None and now.published == last.published else 0
        if quiet >= quiet_checks:
            return now
        if time.monotonic() > deadline:
            raise TimeoutError(f"pipeline still busy after {timeout:.0f}s: {now}")
        last = now
        time.sleep(interval)
