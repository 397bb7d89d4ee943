"""A run collects young objects rarely, and leaves what it kept in the oldest generation: the
next collection of the middle one, in whatever the caller does next, does not walk it."""

from __future__ import annotations

import asyncio
import gc

from robson_backtest.engine import YOUNG_COLLECTION_THRESHOLD, fewer_collections, run_backtest

from .helpers import candles, spec, trader


def test_a_run_leaves_its_trades_and_equity_curve_in_the_oldest_generation() -> None:
    before = gc.get_threshold()
    result = asyncio.run(run_backtest(spec((trader("fast", ("BTCUSDT",)),)),
                                      candles(["BTCUSDT"], 1200)))
    assert result.trades and result.equity
    kept = {id(result.trades[0]), id(result.trades[-1]), id(result.equity),
            id(result.fills)}
    younger = {id(o) for generation in (0, 1) for o in gc.get_objects(generation)}
    assert not kept & younger
    assert kept <= {id(o) for o in gc.get_objects(2)}
    assert gc.get_threshold() == before


def test_inside_a_run_young_collections_wait_for_many_more_objects() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
