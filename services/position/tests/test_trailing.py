"""Real trailing stops: the stop follows the best price (percent or ATR), only tightens, moves
by at least the minimum step and at most once per interval, through the validation layer, one
audit row per move; the exit is labelled TRAILING_STOP."""

from __future__ import annotations

from datetime import datetime

import httpx
from robson_contracts import (
    Candle,
    ExitReason,
    Modification,
    ModificationKind,
    OrderReplaced,
    OrderRole,
    ReplaceOrder,
    Side,
    TriggeredBy,
)
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until
from robson_position.domain.atr import AtrBook
from robson_position.domain.lifecycle import on_order_event, open_position
from robson_position.domain.management import apply_modification
from robson_position.domain.orders import position_id_for
from robson_position.domain.policy import ManagementPolicy
from robson_position.domain.position import Position
from robson_position.domain.rules import evaluate
from robson_position.domain.state import OrderKind

from .factories import T0, D, filled, gate, minutes, refused, sent, stop_replaced
from .fakevenue import FakeVenue
from .test_integration import status_is

PATH = [  # (high, low, close) of consecutive 5m candles
    ("50500", "49900", "50400"),  # best 50500 → stop 49995
    ("51000", "50300", "50900"),  # best 51000 → 50490
    ("50950", "50500", "50600"),  # no new best: no move
    ("51050", "50700", "51000"),  # 51050 → 50539.5 (a 0.097% step)
    ("51060", "50800", "51000"),  # 51060 → 50549.4 is a 0.019% step: under the minimum, not sent
    ("52000", "51500", "51800"),  # 52000 → 51480
]
FINAL_STOP = D("52000") * D("0.99")  # 51480: 1% under the best price of the path


def candle(n: int, h: str, low: str, c: str) -> Candle:
    return Candle(occurred_at=T0 + minutes(5 * n + 5), symbol="BTCUSDT", timeframe="5m",
                  open_time=T0 + minutes(5 * n), close_time=T0 + minutes(5 * n + 5),
                  open=c, high=h, low=low, close=c, volume="1")


async def _stop_at(venue: FakeVenue, price: D) -> bool:
    return any(o.spec.stop_price == price for o in venue.resting.values())


async def test_trailing_stop_follows_the_price_path_to_the_hand_computed_stop_and_exits_labelled(
    bus: Bus, service: Service, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    policy = {"trailing_pct": "1", "trailing_min_step_pct": "0.05",
              "trailing_interval_seconds": 60}
    assert (await api.put("/traders/t1/policy", json=policy)).status_code == 200
    g = gate(tps=())
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(status_is(api, pid, "OPEN"), message="position open")
    for n, (h, low, c) in enumerate(PATH):
        await bus.publish(candle(n, h, low, c))
        await wait_until(lambda n=n: _candle_seen(api, pid, n), message=f"candle {n}")
    await wait_until(lambda: _stop_at(venue, FINAL_STOP), message="final stop at the venue")
    replaced = [c.stop_price for c in venue.commands if isinstance(c, ReplaceOrder)]
    assert replaced == [D("49995"), D("50490"), D("50539.5"), FINAL_STOP]
    audit = (await api.get(f"/positions/{pid}/modifications")).json()
    rows = audit["items"] if isinstance(audit, dict) else audit
    trails = [r for r in rows if r["kind"] == ModificationKind.TRAIL_SL.value]
    assert len(trails) == 4 and all(r["verdict"] == "APPLIED" for r in trails)
    await venue.move("51400", T0 + minutes(40))
    closed = await wait_until(status_is(api, pid, "CLOSED"), message="trailing stop filled")
    assert closed["exit_reason"] == ExitReason.TRAILING_STOP.value
    assert D(closed["exit_price"]) == FINAL_STOP


async def _candle_seen(api: httpx.AsyncClient, pid: str, n: int) -> bool:
    view = (await api.get(f"/positions/{pid}")).json()
    seen = view.get("last_candle_at")
    return seen is not None and datetime.fromisoformat(seen) >= T0 + minutes(5 * n + 5)


def _opened() -> Position:
    p = open_position(gate(tps=()), "PAPER", T0)
    on_order_event(p, filled(p.s.position_id, f"{p.s.position_id}-0E", OrderRole.ENTRY, "50000",
                             "0.2", Side.BUY), T0)
    p.outbox.clear()
    return p


def test_trailing_moves_at_most_once_per_interval_and_never_loosens() -> None:
    p = _opened()
    policy = ManagementPolicy(trailing_pct=D("1"), trailing_interval_seconds=600)
    p.mark(D("50400"), high=D("50500"))
    first = evaluate(p, policy, T0 + minutes(5))
    assert first.modification.new_value == D("49995")
    p.s.stop_loss, p.s.last_trailed_at = D("49995"), T0 + minutes(5)
    p.mark(D("51000"), high=D("51100"))
    assert evaluate(p, policy, T0 + minutes(10)) is None  # 5 min < the 10 min interval
    assert evaluate(p, policy, T0 + minutes(15)).modification.new_value == D("50589")
    p.s.stop_loss = D("50589")
    p.mark(D("50000"), low=D("49900"))
    assert evaluate(p, policy, T0 + minutes(30)) is None


def test_atr_trailing_keeps_the_configured_number_of_atrs_from_the_best_price() -> None:
    book = AtrBook()
    for n in range(3):  # true ranges 200, 200, 200 → ATR(3) = 200
        book.update("BTCUSDT", "5m", T0 + minutes(5 * n), D(50100 + 100 * n), D(49900 + 100 * n),
                    D(50000 + 100 * n), {3})
    atr = book.value("BTCUSDT", "5m", 3)
    assert atr == D(200)
    p = _opened()
    p.mark(D("50200"), high=D("50600"))
    policy = ManagementPolicy(trailing_atr_multiple=D("2"), trailing_atr_period=3)
    action = evaluate(p, policy, T0 + minutes(15), atr)
    assert action.modification.new_value == D("50200")  # 50600 − 2 × 200
    assert action.modification.kind is ModificationKind.TRAIL_SL


def test_atr_book_keeps_following_a_period_once_asked_for_and_ignores_a_candle_seen_again() -> None:
    book = AtrBook()
    for n in range(3):  # true ranges 200, 200, 200 → ATR(3) = 200
        book.update("BTCUSDT", "5m", T0 + minutes(5 * n), D(50100 + 100 * n), D(49900 + 100 * n),
                    D(50000 + 100 * n), {14, 3})
    later = T0 + minutes(15)  # asked with the default period only: ATR(3) follows it still
    book.update("BTCUSDT", "5m", later, D(50700), D(50100), D(50400), frozenset({14}))
    moved = (D(200) * 2 + D(600)) / 3  # true range max(600, |50700 − 50200|, |50100 − 50200|)
    assert book.value("BTCUSDT", "5m", 3) == moved
    book.update("BTCUSDT", "5m", later, D(60000), D(40000), D(50000), frozenset({14}))
    assert book.value("BTCUSDT", "5m", 3) == moved
    assert book.value("BTCUSDT", "5m", 14) is None  # 4 candles of 14


def _confirmed(command: ReplaceOrder, at: int) -> OrderReplaced:
    """The venue's answer to ``command``, ``at`` minutes after T0."""
    assert command.stop_price is not None
    return stop_replaced(command.position_id, command.order_id, command.new_order_id, "0.2",
                         command.stop_price, at)


def _trail(p: Position, stop: str, at: int) -> ReplaceOrder:
    p.outbox.clear()
    apply_modification(p, Modification(kind=ModificationKind.TRAIL_SL, new_value=D(stop)),
                       TriggeredBy.RULE_ENGINE, gate(tps=()), T0 + minutes(at))
    [command] = sent(p, ReplaceOrder)
    return command


def test_replace_confirmed_after_the_next_move_leaves_only_the_newest_stop_to_move() -> None:
    p = _opened()
    first = _trail(p, "49995", 5)
    second = _trail(p, "50490", 10)
    assert second.order_id == first.new_order_id  # moved before the venue confirmed the first
    on_order_event(p, _confirmed(first, 11), T0 + minutes(11))  # the confirmation comes late
    third = _trail(p, "50539.5", 15)
    assert (third.order_id, third.stop_price) == (second.new_order_id, D("50539.5"))
    on_order_event(p, _confirmed(second, 16), T0 + minutes(16))
    on_order_event(p, _confirmed(third, 17), T0 + minutes(17))
    live = [o for o in p.s.orders.values() if o.live and o.kind is OrderKind.STOP]
    assert [(o.order_id, o.price, o.accepted) for o in live] == [(third.new_order_id, D("50539.5"), True)]
    assert _trail(p, "51480", 20).order_id == third.new_order_id


def test_paper_refusing_a_move_after_the_next_one_was_sent_brings_back_the_stop_it_kept() -> None:
    p = _opened()
    kept = next(o for o in p.s.orders.values() if o.live and o.kind is OrderKind.STOP)
    before = (p.s.stop_loss, p.s.trail_percent, p.s.last_trailed_at)
    first = _trail(p, "49995", 5)
    second = _trail(p, "50490", 10)
    # paper refuses the first move (it keeps the stop it was to replace), then the second: the
    # order that one replaces never existed
    on_order_event(p, refused(p, first.new_order_id, "PRICE_FILTER", "refused", 11), T0 + minutes(11))
    on_order_event(p, refused(p, second.new_order_id, "UNKNOWN_ORDER", "cannot replace", 12),
                   T0 + minutes(12))
    live = [o.order_id for o in p.s.orders.values() if o.live and o.kind is OrderKind.STOP]
    assert live == [kept.order_id]
    assert (p.s.stop_loss, p.s.trail_percent, p.s.last_trailed_at) == before
    assert _trail(p, "50539.5", 15).order_id == kept.order_id


def test_an_order_resized_under_the_same_id_stays_the_live_stop_with_its_new_quantity() -> None:
    """execution resizes a bracket's children as the entry fills: ``OrderReplaced`` with the
    same order id and the new quantity."""
    p = _opened()
    stop = next(o for o in p.s.orders.values() if o.live and o.kind is OrderKind.STOP)
    resized = stop_replaced(p.s.position_id, stop.order_id, stop.order_id, "0.15", "49000", 1)
    on_order_event(p, resized, T0 + minutes(1))
    live = [o for o in p.s.orders.values() if o.live and o.kind is OrderKind.STOP]
    assert [(o.order_id, o.quantity, o.accepted) for o in live] == [(stop.order_id, D("0.15"), True)]
