"""Progress watermarks: each durable consumer says, after every fetched batch is settled, how
far it got — so a lockstep replay waits for the platform to be done with a step by listening,
not by polling JetStream every few milliseconds.

A report is a plain NATS message (not stored: no stream captures ``robson.progress.>``) on
``robson.progress.<service>.<consumer>``, JSON::

    {"stream": "ROBSON_MARKET", "consumer": "position-market", "seq": 1234, "pending": 0,
     "relay_backlog": false}

``seq``: the stream sequence of the last message of the batch (handled, skipped or dead-lettered
— settled either way); ``pending``: how many messages the server still had for the consumer when
it delivered that one (0: drained as of then); ``relay_backlog``: the service's outbox relay is
catching up (its events are published after the acks, not before them).

Reports are sent only while someone listens: a listener (the lockstep replay's ``Quiescence``)
announces itself on ``robson.progress_wanted`` (``announce``), again well within
``DEMAND_SECONDS``, and every consumer of the process reports for ``DEMAND_SECONDS`` after the
last announcement (``Demand``). A live market with nobody synchronizing on it then costs no
report per batch per consumer (three per tick). An announcement travels on the listener's
connection ahead of what it publishes next, so a step published after it is reported.

Sent after the batch's events are published (the kit publishes a committed batch's events
before it acks) and after its acks, so a report never runs ahead of what it says. A report is
at most once (plain NATS): a reader treats reports as a hint to look again, never as the only
truth — signal's ``Quiescence`` still asks JetStream before it calls the platform quiet, it just
asks when a report says it is worth asking. ``ROBSON_PROGRESS_REPORTS=false`` turns reports off
(a reader then falls back to polling).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from robson_contracts.subjects import PREFIX

SUBJECT = f"{PREFIX}.progress"
ALL = f"{SUBJECT}.>"
DEMAND = f"{PREFIX}.progress_wanted"
DEMAND_SECONDS = 10.0
"""How long one announcement keeps a process's consumers reporting."""


def enabled() -> bool:
    return os.environ.get("ROBSON_PROGRESS_REPORTS", "true").lower() not in ("0", "false", "no")


@dataclass(frozen=True)
class Progress:
    service: str
    consumer: str
    stream: str
    seq: int
    pending: int
    relay_backlog: bool

    @staticmethod
    def parse(subject: str, data: bytes) -> Progress | None:
        try:
            body = json.loads(data)
            _, _, service, consumer = subject.split(".", 3)
            return Progress(service, consumer, str(body["stream"]), int(body["seq"]),
                            int(body["pending"]), bool(body.get("relay_backlog", False)))
        except (ValueError, KeyError, TypeError):
            return None


class Demand:
    """Whether a listener wants reports (one per connection: ``Demand.of``)."""

    def __init__(self) -> None:
        self.until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self.until

    def _on_announce(self, _msg: Any = None) -> None:
        self.until = time.monotonic() + DEMAND_SECONDS

    @staticmethod
    async def of(nc: Any) -> Demand:
        """The connection's demand, listening for announcements from the first call on."""
        demand: Demand | None = getattr(nc, "_robson_progress_demand", None)
        if demand is None:
            demand = Demand()
            nc._robson_progress_demand = demand

            async def on_announce(msg: Any) -> None:
                demand._on_announce(msg)

            await nc.subscribe(DEMAND, cb=on_announce)
        return demand


async def announce(nc: Any) -> None:
    """Ask every consumer to report its progress for the next ``DEMAND_SECONDS``."""
    await nc.publish(DEMAND, b"")


class Reporter:
    """One per consumer: ``report(msgs)`` after the batch is settled (never raises). With a
    ``demand``, only while it is active; without, always."""

    def __init__(self, nc: Any, service: str, consumer: str, stream: str,
                 relay_backlog: Callable[[], bool] | None = None,
                 demand: Demand | None = None) -> None:
        self.nc = nc
        self.subject = f"{SUBJECT}.{service}.{consumer}"
        self.stream, self.consumer = stream, consumer
        self.relay_backlog = relay_backlog or (lambda: False)
        self.demand = demand

    async def report(self, msgs: list[Any]) -> None:
        if not msgs or (self.demand is not None and not self.demand.active()):
            return
        try:
            last = msgs[-1].metadata
            body = {"stream": self.stream, "consumer": self.consumer,
                    "seq": int(last.sequence.stream), "pending": int(last.num_pending or 0),
                    "relay_backlog": bool(self.relay_backlog())}
            await self.nc.publish(self.subject, json.dumps(body).encode())
        except Exception:  # a report is a hint: never the batch's problem
            pass
