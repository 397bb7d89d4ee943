"""Durable consumer provisioning: create, or bring an existing consumer to the wanted config.

JetStream (nats-server ≥ 2.10) treats a create with a changed config as an update when every
changed field is updatable (ack_wait, max_deliver, max_ack_pending, filter subjects, …): the
consumer keeps its position, and the new config applies at once. A changed *filter* therefore
takes effect from the consumer's current position: older messages on a newly added subject are
not replayed (publish them again with ``robson dlq replay`` or a backfill if they matter).

Fields the server cannot update (the deliver policy, its start sequence/time) are kept from the
existing consumer: where it starts only mattered when it was created. If the server still
refuses, the consumer is deleted and recreated from the old one's ack floor, so nothing already
acknowledged is redelivered and nothing unacknowledged is skipped.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import Error as JetStreamError
from nats.js.errors import NotFoundError

from robson_kit import logs

log = logs.get_logger(__name__)

_COMPARED = ("ack_wait", "max_deliver", "max_ack_pending", "filter_subjects", "ack_policy")


def _differences(wanted: ConsumerConfig, actual: ConsumerConfig) -> dict[str, object]:
    diff: dict[str, object] = {}
    for name in _COMPARED:
        want, have = getattr(wanted, name), getattr(actual, name)
        if name == "filter_subjects":
            want = sorted(want or ([wanted.filter_subject] if wanted.filter_subject else []))
            have = sorted(have or ([actual.filter_subject] if actual.filter_subject else []))
        if want != have:
            diff[name] = {"wanted": want, "was": have}
    return diff


async def provision_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> str:
    """Make the durable consumer match ``config``; returns what was done
    (``created``, ``unchanged``, ``updated`` or ``recreated``)."""
    name = config.durable_name or ""
    try:
        existing = await js.consumer_info(stream, name)
    except NotFoundError:
        await js.add_consumer(stream, config)
        return "created"
    diff = _differences(config, existing.config)
    if not diff:
        return "unchanged"
    kept = config.evolve(
        deliver_policy=existing.config.deliver_policy,
        opt_start_seq=existing.config.opt_start_seq,
        opt_start_time=existing.config.opt_start_time,
    )
    try:
        await js.add_consumer(stream, kept)
    except JetStreamError as exc:
        floor = existing.ack_floor.stream_seq if existing.ack_floor else 0
        log.warning("consumer.recreating", consumer=name, changes=str(diff), error=repr(exc),
                    from_stream_seq=floor + 1)
        await js.delete_consumer(stream, name)
        await js.add_consumer(stream, config.evolve(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=floor + 1,
            opt_start_time=None,
        ))
        return "recreated"
    log.info("consumer.updated", consumer=name, changes=str(diff))
    return "updated"
