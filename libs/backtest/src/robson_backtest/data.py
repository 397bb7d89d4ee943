"""Candles in: kline CSV files (plain or gzipped, signal's own reader), merged by close time and
cut to the period; or a seeded synthetic market (signal's own model)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from robson_contracts import Timeframe
from robson_signal.adapters.files import read_merged
from robson_signal.domain.bars import Bar, dt_to_ms
from robson_signal.domain.klines_csv import CsvIssue
from robson_signal.domain.synthetic import SyntheticMarket


class DataError(ValueError):
    """A data file that cannot be used, naming the file and the line."""


def read_bars(paths: Iterable[Path], start: datetime | None = None,
              end: datetime | None = None) -> Iterator[Bar]:
    """Every file's closed bars in event-time order (ties by symbol, then timeframe), opening
    in [start, end). Rows that do not parse stop the run with their file and line."""

    def refuse(issue: CsvIssue) -> None:
        raise DataError(str(issue))

    streams = [read_merged(Path(p), strict=True, on_issue=refuse) for p in paths]
    lo = dt_to_ms(start) if start else None
    hi = dt_to_ms(end) if end else None
    for bar in heapq.merge(*streams, key=lambda b: (b.close_ms, b.symbol, b.timeframe.seconds)):
        if (lo is None or bar.open_ms >= lo) and (hi is None or bar.open_ms < hi):
            yield bar


def synthetic_bars(seed: int, symbols: list[str], timeframe: Timeframe, start: datetime,
                   count: int) -> list[Bar]:
    markets = [SyntheticMarket(seed, s, timeframe, dt_to_ms(start)) for s in symbols]
    series = [list(m.bars(count)) for m in markets]
    return list(heapq.merge(*series, key=lambda b: (b.close_ms, b.symbol)))
