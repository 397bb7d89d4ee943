"""A run whose accounts start with more than USDT: its starting equity values every balance at
its first price, as the equity curve does."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from robson_backtest.engine import run_backtest
from robson_backtest.outputs import report

from .helpers import candles, spec, trader


def test_return_counts_a_starting_balance_in_a_base_asset_at_its_first_price() -> None:
    """An account starting with 1 ETH besides its USDT, and a trader that never trades: the
    return is ETH's move on that one ETH, not the ETH's whole value counted as profit."""
    bars = candles(["BTCUSDT", "ETHUSDT"], 300, seed=11)
    s = spec((replace(trader("idle", ("BTCUSDT",)),
                      decision=trader("idle", ("BTCUSDT",)).decision.model_copy(
                          update={"min_strength": Decimal(1), "min_confidence": Decimal(1)})),))
    s = replace(s, accounts=(replace(s.accounts[0],
                                     balances={"USDT": Decimal(10000), "ETH": Decimal(1)}),))
    result = asyncio.run(run_backtest(s, bars))
    assert result.trades == []
    eth = [b for b in bars if b.symbol == "ETHUSDT"]
    start = Decimal(10000) + eth[0].open
    end = Decimal(10000) + eth[-1].close
    summary = report(result)["summary"]
    assert Decimal(summary["starting_equity"]) == start
    assert summary["return_pct"] == round(float((end - start) / start * 100), 4)
