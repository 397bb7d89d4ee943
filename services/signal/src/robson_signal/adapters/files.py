"""Kline files on disk: plain or gzipped CSV (detected by content), one file or a directory."""

from __future__ import annotations

import gzip
import heapq
import io
from collections.abc import Callable, Iterator
from pathlib import Path

from robson_contracts import Timeframe

from robson_signal.domain.bars import Bar
from robson_signal.domain.klines_csv import CsvIssue, parse_klines, series_from_filename

GZIP_MAGIC = b"\x1f\x8b"


def open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        gz = probe.read(2) == GZIP_MAGIC
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")  # type: ignore[return-value]
    return path.open("r", encoding="utf-8")  # type: ignore[return-value]


def kline_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and ".csv" in p.name)
        if not files:
            raise FileNotFoundError(f"no kline CSV files in {path}")
        return files
    if not path.exists():
        raise FileNotFoundError(f"replay file {path} does not exist")
    return [path]


def read_file(
    path: Path,
    symbol: str | None = None,
    timeframe: Timeframe | None = None,
    strict: bool = False,
    on_issue: Callable[[CsvIssue], None] | None = None,
) -> Iterator[Bar]:
    series = series_from_filename(path.name)
    sym = symbol or (series[0] if series else None)
    tf = timeframe or (series[1] if series else None)
    if sym is None or tf is None:
        raise ValueError(
            f"cannot tell symbol/timeframe of {path.name}: name it like "
            "BTCUSDT-1m-2024-01.csv or configure them"
        )
    with open_text(path) as handle:
        yield from parse_klines(handle, sym, tf, source=path.name, strict=strict, on_issue=on_issue)


def read_merged(
    path: Path,
    symbol: str | None = None,
    timeframe: Timeframe | None = None,
    strict: bool = False,
    on_issue: Callable[[CsvIssue], None] | None = None,
) -> Iterator[Bar]:
    """Every file's bars merged by event time (close time), ties by symbol and timeframe.
    Files sharing a series are read one after the other (monthly archive files)."""
    groups: dict[tuple[str, str], list[Path]] = {}
    for file in kline_files(path):
        series = series_from_filename(file.name)
        key = (series[0], series[1].value) if series else (symbol or "", str(timeframe))
        groups.setdefault(key, []).append(file)
    streams = [_chain(files, symbol, timeframe, strict, on_issue) for files in groups.values()]
    return heapq.merge(*streams, key=lambda b: (b.close_ms, b.symbol, b.timeframe.seconds))


def _chain(
    files: list[Path],
    symbol: str | None,
    timeframe: Timeframe | None,
    strict: bool,
    on_issue: Callable[[CsvIssue], None] | None,
) -> Iterator[Bar]:
    last = -1
    for file in files:
        for bar in read_file(file, symbol, timeframe, strict, on_issue):
            if bar.open_ms <= last:
                issue = CsvIssue(
                    file.name, 0, f"open_time {bar.open_ms} overlaps the previous file"
                )
                if on_issue:
                    on_issue(issue)
                continue
            last = bar.open_ms
            yield bar
