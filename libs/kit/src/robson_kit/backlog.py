"""What the platform still has to do, as JetStream sees it: the messages the services' durable
consumers have not processed yet, and how far every stream has grown. A replay has drained when
nothing is pending and no stream grows (signal's lockstep replay, the CLI's end of replay)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import AckPolicy
from nats.js.errors import NotFoundError
from robson_contracts.subjects import DEAD_LETTERS, STREAMS, StreamSpec

WATCHED: tuple[StreamSpec, ...] = tuple(s for s in STREAMS if s is not DEAD_LETTERS)


@dataclass(frozen=True)
class BusBacklog:
    pending: int
    """Messages not yet delivered or not yet acknowledged, over the services' consumers
    (durable and explicitly acknowledged: ad-hoc readers do not hold anything up)."""
    sequences: tuple[int, ...]
    """Last sequence of every watched stream, by stream name: changes while anything is still
    being published."""


async def bus_backlog(js: JetStreamContext) -> BusBacklog:
    names = {s.name for s in WATCHED}
    streams = sorted(await js.streams_info(), key=lambda i: i.config.name or "")
    sequences = tuple(i.state.last_seq or 0 for i in streams if i.config.name in names)
    pending = 0
    for spec in WATCHED:
        try:
            consumers = await js.consumers_info(spec.name)
        except NotFoundError:
            continue
        for info in consumers:
            if info.config.durable_name is None or info.config.ack_policy != AckPolicy.EXPLICIT:
                continue
            pending += (info.num_pending or 0) + (info.num_ack_pending or 0)
    return BusBacklog(pending, sequences)
