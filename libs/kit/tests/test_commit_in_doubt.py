"""A COMMIT that landed although the client saw it fail (the connection cut just after the
server committed, as in a failover): the message comes back as a duplicate, and its events,
stored in the outbox by the commit nobody heard of, must be on their stream before that
duplicate is acked — whoever finds the consumer drained (the lockstep replay) must find what
it caused stored too, not a minute later when a periodic sweep would have found it."""

from __future__ import annotations

from typing import Any

import pytest
from robson_contracts import subjects as s
from robson_kit import uow as uow_module
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until
from sqlalchemy import event

from .test_messaging import decisions, make_signal, seen


def cut_after_the_first_commit_with_events(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first transaction that commits events really commits, then raises as the driver
    does when the server closed the connection before its answer reached the client."""
    cuts: list[int] = []
    commit = uow_module.commit_with_outbox

    async def lands_then_cut(session: Any, rows: list[Any]) -> bool:
        committed = await commit(session, rows)
        if rows and committed and not cuts:
            cuts.append(len(rows))
            raise ConnectionResetError("the server closed the connection after COMMIT")
        return committed

    monkeypatch.setattr(uow_module, "commit_with_outbox", lands_then_cut)
    return cuts


async def _drained(bus: Bus) -> bool:
    info = await bus.js.consumer_info(s.SIGNALS.name, "sample_signals")
    return info.ack_floor.stream_seq >= 1 and not info.num_pending and not info.num_ack_pending


async def test_commit_that_landed_but_raised_has_its_events_published_before_the_redelivery_is_acked(
    bus: Bus, sample: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    cuts = cut_after_the_first_commit_with_events(monkeypatch)
    signal = make_signal("sig-doubt")
    await bus.publish(signal)
    await wait_until(lambda: _drained(bus), timeout=30, interval=0.01,
                     message="the signal acked after its redelivery")
    assert cuts == [1], "the first commit was cut after landing"
    assert await seen(sample, "sig-doubt") == 1  # the redelivery was a duplicate
    # at the moment the consumer is found drained, not after a sweep
    assert [d.causation_id for d in await decisions(bus)] == [signal.message_id]


async def test_relay_after_a_doubtful_commit_publishes_in_order_then_returns_to_the_fast_path(
    bus: Bus, sample: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a doubtful commit the relay counts a backlog until a scan finds nothing left,
    then the fast path takes over again: later signals' decisions follow in order."""
    cut_after_the_first_commit_with_events(monkeypatch)
    signals = [make_signal(f"sig-{i}") for i in range(4)]
    for signal in signals[:3]:
        await bus.publish(signal)
    await wait_until(lambda: _decided(bus, 3), timeout=30, message="three decisions")
    await wait_until(lambda: _backlog_cleared(sample), timeout=10, message="the backlog cleared")
    await bus.publish(signals[3])
    await wait_until(lambda: _decided(bus, 4), timeout=30, message="the fourth decision")
    got = [d.causation_id for d in await decisions(bus)]
    assert sorted(map(str, got)) == sorted(str(sig.message_id) for sig in signals)
    assert got[-1] == signals[3].message_id


async def _decided(bus: Bus, n: int) -> bool:
    return len(await decisions(bus)) >= n


async def _backlog_cleared(service: Service) -> bool:
    return not service.relay.behind


async def test_route_commit_with_events_that_raised_counts_as_a_backlog_until_scanned(
    bus: Bus, sample: Service
) -> None:
    """The same for a route's or timer's unit of work: a commit of events that raised may have
    landed, so the relay publishes what the outbox holds before the fast path goes on."""
    await wait_until(lambda: _backlog_cleared(sample), timeout=10, message="the start-up scan")
    signal = make_signal("sig-route")

    def cut(_session: Any) -> None:
        raise ConnectionResetError("the server closed the connection after COMMIT")

    with pytest.raises(ConnectionResetError):
        async with sample.uow() as uow:
            event.listen(uow.session.sync_session, "after_commit", cut, once=True)
            uow.emit(signal)
    assert sample.relay.behind, "a commit of events that raised is in doubt"
    await wait_until(lambda: _on_stream(bus, signal.message_id), timeout=10,
                     message="the landed event published by the scan")
    await wait_until(lambda: _backlog_cleared(sample), timeout=10, message="the backlog cleared")


async def test_route_failing_before_its_commit_is_no_doubt(sample: Service) -> None:
    await wait_until(lambda: _backlog_cleared(sample), timeout=10, message="the start-up scan")
    with pytest.raises(RuntimeError):
        async with sample.uow() as uow:
            uow.emit(make_signal("sig-never"))
            raise RuntimeError("the route failed before committing")
    assert not sample.relay.behind


async def _on_stream(bus: Bus, message_id: object) -> bool:
    return any(m.message_id == message_id for m in await read_stream(bus, s.ALL_SIGNALS))
