"""Kline CSV parsing: Binance's 12-column headerless archive format and headered
``open_time,open,high,low,close,volume`` files. Pure: works on lines, not files.

A corrupt row or a timestamp that does not move forward is reported with its line number;
``strict`` raises at the first problem, otherwise the row is skipped and reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from robson_contracts import Timeframe
from robson_contracts.types import decimal_problem

from robson_signal.domain.bars import Bar

FILENAME = re.compile(r"^(?P<symbol>[A-Z0-9]{2,20})-(?P<tf>\d+[mhd])(?:-|\.|$)")
MICROSECONDS_THRESHOLD = 10**14  # archive files from 2025 on carry microseconds
_WITHIN = r"-?\d{1,18}(?:\.\d{1,40})?"
WRITTEN_IN_BOUNDS = re.compile(_WITHIN)
"""A number written out plainly with at most 18 digits before the point and 40 after: finite
and within a Candle's bounds as written, so ``decimal_problem`` (which formats the parsed value
again to count its places) has nothing to find. Nearly every row of an archive is so; any other
spelling (exponents, a sign or spaces, leading or trailing zeros past the limits) is checked
value by value."""
_FIVE_IN_BOUNDS = re.compile(",".join([_WITHIN] * 5))
"""Open, high, low, close and volume, each ``WRITTEN_IN_BOUNDS``: one match a row."""


@dataclass(frozen=True)
class CsvIssue:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


class CsvFormatError(ValueError):
    def __init__(self, issue: CsvIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


def series_from_filename(name: str) -> tuple[str, Timeframe] | None:
    """``BTCUSDT-1m-2024-01.csv`` → ("BTCUSDT", 1m), or None when the name says nothing."""
    match = FILENAME.match(name)
    if not match:
        return None
    try:
        return match["symbol"], Timeframe(match["tf"])
    except ValueError:
        return None


def parse_klines(
    lines: Iterable[str],
    symbol: str,
    timeframe: Timeframe,
    source: str = "<csv>",
    strict: bool = False,
    on_issue: Callable[[CsvIssue], None] | None = None,
) -> Iterator[Bar]:
    last_ms: int | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split(",")
        if number == 1 and not _is_int(fields[0]):
            _check_header(fields, source)
            continue
        try:
            bar = _row_to_bar(fields, symbol, timeframe)
            if last_ms is not None and bar.open_ms <= last_ms:
                raise ValueError(
                    f"open_time {bar.open_ms} does not follow the previous row's "
                    f"{last_ms} (timestamps must increase)"
                )
        except ValueError as exc:
            issue = CsvIssue(source, number, str(exc))
            if strict:
                raise CsvFormatError(issue) from None
            if on_issue is not None:
                on_issue(issue)
            continue
        last_ms = bar.open_ms
        yield bar


def _check_header(fields: list[str], source: str) -> None:
    names = [f.strip().lower() for f in fields[:6]]
    if names != ["open_time", "open", "high", "low", "close", "volume"]:
        raise CsvFormatError(
            CsvIssue(
                source,
                1,
                f"unrecognised header {','.join(fields)!r}; "
                "expected open_time,open,high,low,close,volume",
            )
        )


def _row_to_bar(fields: list[str], symbol: str, timeframe: Timeframe) -> Bar:
    if len(fields) not in (6, 12):
        raise ValueError(f"expected 6 or 12 columns, found {len(fields)}")
    if not _is_int(fields[0]):
        raise ValueError(f"open_time {fields[0]!r} is not an integer timestamp")
    open_ms = int(fields[0])
    if open_ms >= MICROSECONDS_THRESHOLD:
        open_ms //= 1000
    try:
        o, h, low = Decimal(fields[1]), Decimal(fields[2]), Decimal(fields[3])
        c, v = Decimal(fields[4]), Decimal(fields[5])
    except InvalidOperation:
        raise ValueError(f"non-numeric price or volume in {','.join(fields[1:6])!r}") from None
    if not _FIVE_IN_BOUNDS.fullmatch(",".join(fields[1:6])):
        _check_candle_values((o, h, low, c, v))
    bar = Bar(symbol, timeframe, open_ms, o, h, low, c, v)
    problem = bar.problem()
    if problem:
        raise ValueError(problem)
    return bar


def _check_candle_values(values: tuple[Decimal, ...]) -> None:
    """A Candle's bounds: a bad row here, not a lost batch later."""
    if not all(value.is_finite() for value in values):
        raise ValueError("prices and volume must be finite")
    for value in values:
        if (problem := decimal_problem(value)) is not None:
            raise ValueError(f"{value}: {problem}")


def _is_int(text: str) -> bool:
    return text.strip().isdigit()


def format_archive_row(bar: Bar, trades: int = 0) -> str:
    """The 12-column archive row for a bar (quote volume and taker columns are not kept)."""
    close_ms = bar.close_ms - 1
    return (
        f"{bar.open_ms},{bar.open},{bar.high},{bar.low},{bar.close},{bar.volume},"
        f"{close_ms},0,{trades},0,0,0"
    )
