"""The hot paths on real Postgres: one marks write per candle, the settings cache."""

from __future__ import annotations

import httpx
import pytest
from nats.aio.msg import Msg
from robson_contracts import Candle, OrderRole, ReplaceOrder, Side, TradeTick, encode, subject_for
from robson_kit.batch import BatchTransaction, Outcome
from robson_kit.errors import ConflictError
from robson_kit.uow import UnitOfWork
from robson_position.adapters.repository import Positions
from robson_position.deps import PositionService
from robson_position.domain.orders import position_id_for
from robson_position.handlers.entries import handle_gate_decision
from robson_position.handlers.management import set_paused
from robson_position.handlers.market import apply_tick, handle_candle
from robson_position.handlers.orders import handle_order_event

from .factories import T0, D, filled, gate, minutes


def _candle(high: str) -> Candle:
    return Candle(occurred_at=T0 + minutes(5), symbol="BTCUSDT", timeframe="5m", open_time=T0,
                  close_time=T0 + minutes(5), open="50000", high=high, low="49900", close="50800",
                  volume="10")


async def _open(service: PositionService, trader: str) -> str:
    rt = service.deps.runtime
    g = gate(gate_id=f"g-{trader}", trader=trader)
    pid = position_id_for(g.gate_decision_id)
    async with service.uow() as uow:
        await handle_gate_decision(g, uow, rt)
    async with service.uow() as uow:
        await handle_order_event(filled(pid, f"{pid}-0E", OrderRole.ENTRY, "50000", "0.2", Side.BUY),
                                 uow, rt)
    return pid


async def _load(service: PositionService, pid: str):  # type: ignore[no-untyped-def]
    async with service.uow() as uow:
        return await Positions(uow.session).get(pid)


def _bar(start: int, o: str, h: str, lo: str, c: str) -> Candle:
    return Candle(occurred_at=T0 + minutes(start + 5), symbol="BTCUSDT", timeframe="5m",
                  open_time=T0 + minutes(start), close_time=T0 + minutes(start + 5), open=o,
                  high=h, low=lo, close=c, volume="10")


async def _fetched_together(service: PositionService, candles: list[Candle],
                            ) -> tuple[dict[int, Outcome], list[UnitOfWork]]:
    """``candles`` through the kit's own batch transaction, as the candle consumer runs a
    fetched batch (a unit of work per message on one session): (outcomes, units of work)."""
    rt = service.deps.runtime
    batch = BatchTransaction("position_candles", lambda m, u: handle_candle(m, u, rt), True,
                             service.sessions, service.clock, "position")
    return await batch.run([(Msg(None, subject=subject_for(c), data=encode(c)), c)
                            for c in candles])


async def test_closed_candle_persists_marks_of_untouched_positions_and_lets_rules_move_a_stop(
    service: PositionService, api: httpx.AsyncClient
) -> None:
    rt = service.deps.runtime
    r = await api.put("/traders/t1/policy", json={"breakeven_trigger_pct": "2"})
    assert r.status_code == 200
    ruled, *plain = [await _open(service, t) for t in ("t1", "t2", "t3")]
    async with service.uow() as uow:
        await handle_candle(_candle("51200"), uow, rt)
        emitted = uow.emitted
    assert [m.position_id for m in emitted if isinstance(m, ReplaceOrder)] == [ruled, ruled]
    assert (await _load(service, ruled)).s.stop_loss == D("50000")
    for pid in plain:
        p = await _load(service, pid)
        assert (p.s.best_price, p.s.worst_price, p.s.last_price) == (D("51200"), D("49900"), D("50800"))
        assert p.s.last_candle_at == T0 + minutes(5) and p.s.version == 3
        assert rt.book.get("BTCUSDT", pid).best == D("51200")


async def test_marks_written_over_a_concurrent_change_conflict_and_write_nothing(service: PositionService) -> None:
    a, b = await _open(service, "t1"), await _open(service, "t2")
    stale = [await _load(service, a), await _load(service, b)]
    async with service.uow() as uow:
        fresh = await Positions(uow.session).get(b)
        await Positions(uow.session).save(fresh)
    for p in stale:
        p.s.best_price = D("60000")
    with pytest.raises(ConflictError):
        async with service.uow() as uow:
            await Positions(uow.session).save_marks(stale)
    assert [p.s.version for p in stale] == [2, 2]
    assert (await _load(service, a)).s.best_price == D("50000")


async def test_policy_changed_after_it_was_cached_is_seen_by_the_next_read(
    service: PositionService, api: httpx.AsyncClient
) -> None:
    rt = service.deps.runtime
    async with service.uow() as uow:
        assert (await rt.settings.policy(uow, "t9")).breakeven_trigger_pct is None
    assert (await api.put("/traders/t9/policy", json={"breakeven_trigger_pct": "1.5"})).status_code == 200
    assert (await api.put("/accounts/a9", json={"mode": "LIVE"})).status_code == 200
    async with service.uow() as uow:
        assert (await rt.settings.policy(uow, "t9")).breakeven_trigger_pct == D("1.5")
        assert (await rt.settings.account(uow, "a9")).mode.value == "LIVE"


async def test_pause_rolled_back_never_reaches_the_cache(service: PositionService) -> None:
    rt = service.deps.runtime

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with service.uow() as uow:
            await set_paused(uow, rt, "acc1", "t8", True, "test")
            assert await rt.settings.paused(uow, "t8")  # its own uncommitted write
            raise Abort
    async with service.uow() as uow:
        assert not await rt.settings.paused(uow, "t8")


async def test_two_candles_in_one_transaction_track_each_position_once_in_its_last_state(
    service: PositionService,
) -> None:
    """A fetched batch of a symbol's candles reads each position once and writes it once, just
    before commit; what the process mirrors after commit (mark book, indexes, live subscribers)
    is the last state, taken once per position."""
    rt = service.deps.runtime
    pids = [await _open(service, t) for t in ("t1", "t2")]
    later = _bar(5, "50800", "51500", "50700", "51400")
    queue = rt.hub.subscribe()
    async with service.uow() as uow:
        await handle_candle(_candle("51200"), uow, rt)
        await handle_candle(later, uow, rt)
        assert queue.empty()  # nothing mirrored before commit
    snapshots = [queue.get_nowait() for _ in range(queue.qsize())]
    assert sorted(s["position_id"] for s in snapshots) == sorted(pids)
    assert all(s["version"] == 3 for s in snapshots)
    for pid in pids:
        assert rt.book.get("BTCUSDT", pid).best == D("51500")
        loaded = await _load(service, pid)
        assert loaded.s.version == 3 and loaded.s.last_candle_at == later.close_time


async def test_candles_fetched_in_one_batch_each_leave_their_marks_in_the_one_write(
    service: PositionService,
) -> None:
    """The kit runs a fetched batch in one transaction with a unit of work per message: the
    second candle goes on from the marks the first left (the positions read once), the write
    before commit holds both, and the process mirrors the position once, after commit."""
    rt = service.deps.runtime
    pid = await _open(service, "t1")
    first = _bar(0, "50000", "51200", "49700", "50800")
    later = _bar(5, "50800", "51000", "50700", "50900")
    queue = rt.hub.subscribe()
    outcomes, uows = await _fetched_together(service, [first, later])
    assert [o.kind for o in outcomes.values()] == ["ack", "ack"] and len(uows) == 2
    snapshots = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [(v["position_id"], v["version"]) for v in snapshots] == [(pid, 3)]  # tracked once
    p = await _load(service, pid)
    assert (p.s.best_price, p.s.worst_price, p.s.last_price) == (D("51200"), D("49700"), D("50900"))
    assert p.s.last_candle_at == later.close_time and p.s.version == 3


async def test_trail_moved_by_each_candle_of_a_fetched_batch_is_mirrored_once_after_commit(
    service: PositionService, api: httpx.AsyncClient
) -> None:
    rt = service.deps.runtime
    r = await api.put("/traders/t1/policy", json={
        "trailing_pct": "1", "trailing_interval_seconds": 0, "modification_interval_seconds": 0})
    assert r.status_code == 200
    pid = await _open(service, "t1")
    candles = [_bar(0, "50800", "51000", "50700", "50900"),
               _bar(5, "51800", "52000", "51700", "51900")]
    queue = rt.hub.subscribe()
    await _fetched_together(service, candles)
    p = await _load(service, pid)
    assert p.s.stop_loss == D("51480")  # 1% under 52,000: moved twice
    snapshots = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [(v["position_id"], v["version"]) for v in snapshots] == [(pid, p.s.version)]


async def test_position_the_rules_close_on_a_later_candle_of_the_batch_is_written_once_whole(
    service: PositionService, api: httpx.AsyncClient
) -> None:
    """Its earlier candle's marks are in the state the close wrote: the batch's marks write
    leaves it out (a second write would count another version); the untouched one gets both
    candles' marks in that write."""
    rt = service.deps.runtime
    r = await api.put("/traders/t1/policy", json={"time_exit_minutes": 7})
    assert r.status_code == 200
    timed, plain = [await _open(service, t) for t in ("t1", "t2")]
    later = _bar(5, "50800", "51500", "50700", "51400")
    async with service.uow() as uow:
        await handle_candle(_candle("51200"), uow, rt)
        await handle_candle(later, uow, rt)
    closing, held = await _load(service, timed), await _load(service, plain)
    assert closing.s.status.value == "CLOSING" and closing.s.pending_exit_reason.value == "TIME_EXIT"
    assert closing.s.version == 3 and held.s.version == 3
    for p in (closing, held):
        assert (p.s.best_price, p.s.worst_price) == (D("51500"), D("49900"))
        assert p.s.last_candle_at == later.close_time


async def test_ticks_after_a_new_peak_do_not_bring_back_a_low_from_before_it(
    service: PositionService,
) -> None:
    """Long 0.2 at 50,000: a dip to 45,000 (a fall of 1,000), then a bar from 47,500 to a peak
    of 60,000 (taken high first, low last: a fall of 2,500 from that peak), then ticks and a
    bar between 58,500 and 59,500. The largest fall stays 2,500: the ticks' range since the
    last candle is folded in, not the position's lowest price (45,000), which came before the
    peak (it made 3,000 of it): the same marks the bars alone give (a backtest leaves out ticks
    that can act on nothing)."""
    rt = service.deps.runtime
    ticked = await _open(service, "t1")
    bars = [_bar(0, "50000", "50000", "45000", "47500"), _bar(5, "47500", "60000", "47500", "59000")]
    for bar in bars:
        async with service.uow() as uow:
            await handle_candle(bar, uow, rt)
    for price in ("59200", "58800"):
        apply_tick(TradeTick(occurred_at=T0 + minutes(11), symbol="BTCUSDT", price=price), rt)
    async with service.uow() as uow:
        await handle_candle(_bar(10, "59000", "59500", "58500", "59000"), uow, rt)
    marked = (await _load(service, ticked)).s
    assert marked.max_drawdown == D("2500.0") and marked.peak_pnl == D("2000.0")
    assert (marked.best_price, marked.worst_price) == (D("60000"), D("45000"))
