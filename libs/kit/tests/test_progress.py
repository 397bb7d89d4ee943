"""Progress reports on demand: a consumer reports after each batch only while a listener (the
lockstep replay) announces itself; a live market with nobody listening costs no report."""

from __future__ import annotations

import asyncio
from typing import Any

from robson_kit import progress
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .test_messaging import make_signal


async def test_consumers_report_progress_only_while_a_listener_announces_itself(
    bus: Bus, sample: Service
) -> None:
    reports: list[progress.Progress | None] = []

    async def on_report(msg: Any) -> None:
        reports.append(progress.Progress.parse(msg.subject, msg.data))

    sub = await bus.nc.subscribe(progress.ALL, cb=on_report)
    consumer = sample.consumers[0]
    try:
        await bus.publish(make_signal("sig-unheard"))
        await wait_until(lambda: consumer.processed >= 1, message="first signal handled")
        await asyncio.sleep(0.2)
        assert reports == []  # nobody asked: no report
        await progress.announce(bus.nc)
        await bus.publish(make_signal("sig-heard"))
        await wait_until(lambda: reports, message="a report once announced")
        [report] = reports
        assert report is not None
        assert (report.service, report.consumer, report.pending) == ("sample", "sample_signals", 0)
        demand = await progress.Demand.of(sample.bus.nc)
        assert demand.active()
        demand.until = 0.0  # the announcement lapsed (DEMAND_SECONDS without another)
        await bus.publish(make_signal("sig-lapsed"))
        await wait_until(lambda: consumer.processed >= 3, message="third signal handled")
        await asyncio.sleep(0.2)
        assert len(reports) == 1
    finally:
        await sub.unsubscribe()
