"""``robson data download``: real klines into the replay format, resumable.

* ``rest``: pages ``/api/v3/klines`` into ``<SYMBOL>-<tf>.csv`` (12-column archive rows);
  a rerun continues after the last row already in the file.
* ``archive``: the public data archive's monthly zips, each verified against its
  ``.CHECKSUM`` (SHA-256) before ``<SYMBOL>-<tf>-<YYYY-MM>.csv`` is written; months already
  present are skipped, a bad checksum leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import typer
from robson_contracts import Timeframe

from robson_signal.domain.bars import dt_to_ms
from robson_signal.domain.klines_csv import format_archive_row

ARCHIVE_URL = "https://data.binance.vision"
app = typer.Typer(help="Download Binance klines for replay.")


class ChecksumMismatchError(RuntimeError):
    pass


async def download_rest(
    symbol: str,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
    out_dir: Path,
    api_url: str = "https://api.binance.com/api",
) -> Path:
    target = out_dir / f"{symbol}-{timeframe.value}.csv"
    start_ms = max(dt_to_ms(start), _resume_after(target, timeframe))
    # Here rather than at the top: python-binance (and aiohttp) take ~0.3 s to import, and every
    # `robson` command loads this module for its `data` sub-command.
    from robson_signal.adapters.binance_client import fetch_klines, make_client

    client = make_client(api_url, "https://fapi.binance.com/fapi")
    try:
        bars = await fetch_klines(client, symbol, timeframe, start_ms, dt_to_ms(end) - 1)
    finally:
        await client.close_connection()
    with target.open("a") as handle:
        handle.writelines(format_archive_row(b) + "\n" for b in bars)
    return target


def _resume_after(target: Path, timeframe: Timeframe) -> int:
    """The open time after the file's last row (0 for a new file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or not target.stat().st_size:
        return 0
    last_line = target.read_text().rstrip("\n").rsplit("\n", 1)[-1]
    return int(last_line.split(",")[0]) + timeframe.seconds * 1000


def download_archive(
    symbol: str, timeframe: Timeframe, months: list[str], out_dir: Path, base_url: str = ARCHIVE_URL
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for month in months:
            target = out_dir / f"{symbol}-{timeframe.value}-{month}.csv"
            if target.exists():
                continue
            stem = f"data/spot/monthly/klines/{symbol}/{timeframe.value}/{symbol}-{timeframe.value}-{month}"
            blob = http.get(f"/{stem}.zip").raise_for_status().content
            expected = http.get(f"/{stem}.zip.CHECKSUM").raise_for_status().text.split()[0]
            actual = hashlib.sha256(blob).hexdigest()
            if actual != expected:
                raise ChecksumMismatchError(f"{stem}.zip: sha256 {actual} != published {expected}")
            with zipfile.ZipFile(io.BytesIO(blob)) as zf:
                data = zf.read(zf.namelist()[0])
            partial = target.with_suffix(".csv.part")
            partial.write_bytes(data)
            partial.rename(target)  # atomic: a crash never leaves a half month looking complete
            written.append(target)
    return written


@app.command("download")
def download_command(
    symbols: list[str] = typer.Argument(..., help="e.g. BTCUSDT ETHUSDT"),
    timeframe: str = typer.Option("1m", "--timeframe", "-t"),
    start: str = typer.Option(..., help="ISO date, e.g. 2024-01-01"),
    end: str = typer.Option(..., help="ISO date (exclusive)"),
    out: Path = typer.Option(Path("data/klines"), "--out"),
    source: str = typer.Option("archive", help="archive (monthly zips) or rest"),
    api_url: str = typer.Option("https://api.binance.com/api"),
    archive_url: str = typer.Option(ARCHIVE_URL),
) -> None:
    tf = Timeframe(timeframe)
    begin, finish = _date(start), _date(end)
    for symbol in symbols:
        if source == "rest":
            path = asyncio.run(download_rest(symbol, tf, begin, finish, out, api_url))
            typer.echo(f"{symbol}: {path}")
        else:
            for path in download_archive(
                symbol, tf, months_between(begin, finish), out, archive_url
            ):
                typer.echo(f"{symbol}: {path}")


def months_between(start: datetime, end: datetime) -> list[str]:
    months, y, m = [], start.year, start.month
    while (y, m) < (end.year, end.month) or (y, m) == (start.year, start.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def _date(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
