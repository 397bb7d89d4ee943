"""The venues' SymbolRules reach position through the bus (durable consumer
``position_venue_rules``), are kept per venue and symbol (the newest wins, stored in position's
own table, so a restart has them whatever the stream holds) and size what it sends."""

from __future__ import annotations

from datetime import datetime

import httpx
from robson_contracts import OrderType, PositionError, SymbolRules, TradingMode
from robson_kit.bus import Bus
from robson_kit.testing import read_stream, reset_streams, wait_until
from robson_position.deps import PositionService
from robson_position.domain.lots import LotRules
from robson_position.main import build_service
from robson_position.settings import PositionSettings

from .factories import T0, D, minutes
from .fakevenue import FakeVenue
from .test_protection_refused import off_step_split_with_its_second_take_profit_cancelled

PAPER = TradingMode.PAPER


def told(step: str = "0.00001", at: datetime = T0, venue: str = "PAPER") -> SymbolRules:
    return SymbolRules(occurred_at=at, venue=venue, symbol="BTCUSDT", base_asset="BTC",
                       quote_asset="USDT", tick_size="0.01", step_size=step, min_qty=step,
                       min_notional="5")


def knows(service: PositionService, step: str, venue: TradingMode = PAPER):  # type: ignore[no-untyped-def]
    def check() -> bool:
        lot = service.deps.runtime.venue_rules.lot(venue, "BTCUSDT")
        return lot is not None and lot.step_size == D(step)
    return check


async def test_position_learns_paper_symbol_rules_through_the_bus(
    bus: Bus, service: PositionService
) -> None:
    assert service.deps.runtime.venue_rules.lot(PAPER, "BTCUSDT") is None
    await bus.publish(told())
    await wait_until(knows(service, "0.00001"), timeout=10, message="paper's BTCUSDT rules learned")
    assert service.deps.runtime.venue_rules.lot(PAPER, "BTCUSDT") == LotRules(
        D("0.00001"), D("0.00001"), D("5"))
    assert service.deps.runtime.venue_rules.lot(TradingMode.LIVE, "BTCUSDT") is None


def _service(nats_url: str, database_url: str, schema: str) -> PositionService:
    return build_service(PositionSettings(
        nats_url=nats_url, database_url=database_url, db_schema=schema, ack_wait_seconds=2,
        outbox_poll_seconds=0.2, resync_on_start=False, stop_watchdog_interval_seconds=0))


async def test_the_newest_rules_are_kept_and_a_restart_reads_them_from_its_own_table(
    bus: Bus, nats_url: str, database_url: str, schema: str
) -> None:
    first = _service(nats_url, database_url, schema)
    await first.start()
    try:
        await bus.publish(told("0.0001", at=T0 + minutes(60)))
        # The stream keeps one message per subject: the older rules are published only once
        # the newer ones were taken, or the stream would drop the newer ones before delivery.
        await wait_until(knows(first, "0.0001"), timeout=10, message="the newest PAPER rules")
        await bus.publish(told("0.01", at=T0))  # older: told before, delivered after
        await bus.publish(told("0.001", at=T0 + minutes(5), venue="LIVE"))
        # One consumer takes the stream in order: the LIVE rules are handled after the older
        # PAPER ones, which changed nothing.
        await wait_until(knows(first, "0.001", TradingMode.LIVE), timeout=10, message="LIVE rules")
        assert knows(first, "0.0001")()
    finally:
        await first.stop()
    await reset_streams(bus)  # the bus holds nothing any more: position's table must
    again = _service(nats_url, database_url, schema)
    await again.start()
    try:
        assert knows(again, "0.0001")() and knows(again, "0.001", TradingMode.LIVE)()
    finally:
        await again.stop()


async def test_an_off_step_split_is_placed_on_the_venue_step_once_paper_told_its_rules(
    bus: Bus, service: PositionService, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    """The scenario of ``test_venue_refusing_an_off_step_split_leaves_everything_held_under_one_stop``
    with paper's rules told: 0.00999 BTC, its second take-profit cancelled. Protected again as
    an OCO of 0.00499 and a stop alone of 0.005, both on the 0.00001 step: nothing refused,
    the take-profit kept, and the stops cover all that is held."""
    await bus.publish(told())
    await wait_until(knows(service, "0.00001"), timeout=10, message="rules learned")
    pid = await off_step_split_with_its_second_take_profit_cancelled(bus, api, venue)
    placed = await wait_until(lambda: _generation_resting(venue, pid, 3), timeout=5,
                              message="the take-profit's OCO and a stop alone resting")
    stops = sorted(o.quantity for o in placed if o.type is OrderType.STOP_MARKET)
    takes = [o.quantity for o in placed if o.type is not OrderType.STOP_MARKET]
    assert stops == [D("0.00499"), D("0.005")] and takes == [D("0.00499")]
    assert sum(stops) == D("0.00999")
    view = (await api.get(f"/positions/{pid}")).json()
    assert [tp["canceled"] for tp in view["take_profits"]] == [False, True]
    errors = [m for m in await read_stream(bus, "robson.position.evt.>") if isinstance(m, PositionError)]
    assert errors == [], [e.reason_code for e in errors]


def _resting(venue: FakeVenue, pid: str) -> list:  # type: ignore[type-arg]
    return [o.spec for o in venue.resting.values() if o.position_id == pid]


def _generation_resting(venue: FakeVenue, pid: str, n: int) -> list | None:  # type: ignore[type-arg]
    """The ``n`` orders of the protection placed after the first generation, once all rest."""
    later = [o for o in _resting(venue, pid) if not o.order_id.startswith(f"{pid}-0")]
    return later if len(later) == n and len(_resting(venue, pid)) == n else None


async def test_in_the_one_process_backtest_position_learns_paper_rules_as_accounts_are_configured(
) -> None:
    """The backtest wires paper's and position's own handlers over memory and runs no start-up
    task: configuring its accounts through paper's handler tells the rules to position."""
    from robson_backtest.platform import Platform
    from robson_backtest.spec import AccountSpec, BacktestSpec

    platform = Platform(BacktestSpec(accounts=(AccountSpec("main", {"USDT": D(10000)}),),
                                     traders=()), T0)
    assert platform.position.venue_rules.lot(PAPER, "ETHUSDT") is None
    await platform.configure()
    assert platform.position.venue_rules.lot(PAPER, "ETHUSDT") == LotRules(
        D("0.0001"), D("0.0001"), D("5"))
    assert ("PAPER", "ETHUSDT") in platform.position_tables.venue_rules
    assert platform.bus.dead_letters == []
