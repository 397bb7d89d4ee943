"""Performance metrics and the mark book."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from robson_position.domain.markbook import Mark, MarkBook
from robson_position.domain.performance import Trade, max_drawdown, performance, sharpe, sortino

from .factories import T0, D


def trade(pnl: str, r: str | None, day: int, hours: int = 2) -> Trade:
    closed = T0 + timedelta(days=day)
    return Trade(D(pnl), D(r) if r else None, closed - timedelta(hours=hours), closed)


def test_performance_of_three_trades_matches_hand_computation() -> None:
    perf = performance([trade("100", "1", 0), trade("-50", "-0.5", 1), trade("200", "2", 2, hours=4)])
    assert perf.trades == 3 and perf.wins == 2 and perf.losses == 1
    assert perf.win_rate == D(2) / 3
    assert perf.profit_factor == D(6)  # 300 / 50
    assert perf.expectancy == D("250") / 3
    assert perf.average_r == D("2.5") / 3
    assert perf.max_drawdown == D(50)
    assert perf.best_trade == D(200) and perf.worst_trade == D(-50)
    assert perf.average_holding_seconds == (2 + 2 + 4) * 3600 / 3
    assert perf.sharpe is not None and perf.sortino is not None and perf.sortino > perf.sharpe


def test_no_trades_gives_empty_performance() -> None:
    perf = performance([])
    assert perf.trades == 0 and perf.win_rate is None and perf.sharpe is None


def test_sharpe_and_sortino_need_variance_and_downside() -> None:
    assert sharpe([0.01, 0.01, 0.01]) is None
    assert sortino([0.01, 0.02]) is None
    assert sharpe([0.01, -0.01, 0.02]) > 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=-1000, max_value=1000), max_size=30))
def test_max_drawdown_is_largest_peak_to_trough_fall(pnls: list[int]) -> None:
    values = [D(p) for p in pnls]
    equity, curve = D(0), [D(0)]
    for v in values:
        equity += v
        curve.append(equity)
    brute = max((curve[i] - curve[j] for i in range(len(curve)) for j in range(i, len(curve))), default=D(0))
    assert max_drawdown(values) == brute


def test_mark_book_updates_only_positions_of_the_symbol_with_mfe_mae_and_best() -> None:
    book = MarkBook()
    book.put("BTCUSDT", Mark("a", True, D(100), D(2)))
    book.put("BTCUSDT", Mark("b", False, D(100), D(1)))
    book.put("ETHUSDT", Mark("c", True, D(10), D(1)))
    for price in ("110", "95", "105"):
        assert book.on_price("BTCUSDT", D(price)) == 2
    a, b = book.get("BTCUSDT", "a"), book.get("BTCUSDT", "b")
    assert a.unrealized == D(10) and a.mfe == D(20) and a.mae == D(-10) and a.best == D(110)
    assert (a.worst, a.last) == (D(95), D(105))
    assert b.unrealized == D(-5) and b.mfe == D(5) and b.mae == D(-10)
    assert (b.best, b.worst) == (D(95), D(110))
    assert book.get("ETHUSDT", "c").last == D(10)


_OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from("abc"), st.booleans(), st.integers(90, 110)),
    st.tuples(st.just("tick"), st.integers(80, 120)),
    st.tuples(st.just("get"), st.sampled_from("abc")),
    st.tuples(st.just("drop"), st.sampled_from("abc")),
), max_size=60)


@given(_OPS)
def test_mark_book_folding_ticks_lazily_reads_as_marking_every_tick(ops: list[tuple]) -> None:
    """Ticks, new marks (a new one sees no earlier tick), reads and drops in any order: every
    read gives the best, worst and last price that updating each mark on every tick gives."""
    book = MarkBook()
    eager: dict[str, Mark] = {}
    for op in ops:
        if op[0] == "put":
            _, pid, long, entry = op
            book.put("BTCUSDT", Mark(pid, long, D(entry), D(1)))
            eager[pid] = Mark(pid, long, D(entry), D(1))
        elif op[0] == "tick":
            book.on_price("BTCUSDT", D(op[1]))
            for mark in eager.values():
                mark.update(D(op[1]))
        elif op[0] == "drop":
            book.drop("BTCUSDT", op[1])
            eager.pop(op[1], None)
        else:
            got, want = book.get("BTCUSDT", op[1]), eager.get(op[1])
            assert (got is None) == (want is None)
            if got is not None and want is not None:
                assert (got.best, got.worst, got.last) == (want.best, want.worst, want.last)
