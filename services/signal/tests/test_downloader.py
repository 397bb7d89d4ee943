"""The downloader against the fake Binance: REST resume, archive checksums and resume."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from robson_contracts import Timeframe
from robson_signal.adapters.files import read_file
from robson_signal.downloader import ChecksumMismatchError, download_archive, download_rest

from .fake_binance import FakeBinance, kline_row

STEP = 60_000
T0 = int(datetime(2024, 1, 31, 23, 50, tzinfo=UTC).timestamp() * 1000)


async def test_rest_download_writes_replayable_file_and_resumes_after_last_row(tmp_path) -> None:
    fake = await FakeBinance().start()
    try:
        fake.klines[("BTCUSDT", "1m")] = [kline_row(T0 + i * STEP, STEP, 100 + i) for i in range(5)]
        end = datetime(2024, 2, 1, 1, tzinfo=UTC)
        path = await download_rest(
            "BTCUSDT",
            Timeframe.M1,
            datetime(2024, 1, 31, tzinfo=UTC),
            end,
            tmp_path,
            f"{fake.url}/api",
        )
        fake.klines[("BTCUSDT", "1m")] += [
            kline_row(T0 + i * STEP, STEP, 100 + i) for i in range(5, 8)
        ]
        await download_rest(
            "BTCUSDT",
            Timeframe.M1,
            datetime(2024, 1, 31, tzinfo=UTC),
            end,
            tmp_path,
            f"{fake.url}/api",
        )
        starts = [q["startTime"] for p, q in fake.requests if p == "/api/v3/klines"]
    finally:
        await fake.stop()
    bars = list(read_file(path, strict=True))
    assert [b.open_ms for b in bars] == [T0 + i * STEP for i in range(8)]
    assert starts[-1] == str(T0 + 5 * STEP)  # resumed, not refetched


async def test_archive_download_verifies_checksums_and_skips_months_it_has(tmp_path) -> None:
    fake = await FakeBinance().start()
    try:
        fake.klines[("BTCUSDT", "1m")] = [
            kline_row(T0 + i * STEP, STEP, 100 + i) for i in range(20)
        ]
        fake.bad_checksum.add("2024-02")
        with pytest.raises(ChecksumMismatchError, match="sha256"):
            await _in_thread(
                download_archive,
                "BTCUSDT",
                Timeframe.M1,
                ["2024-01", "2024-02"],
                tmp_path,
                fake.url,
            )
        assert [p.name for p in tmp_path.iterdir()] == ["BTCUSDT-1m-2024-01.csv"]
        fake.bad_checksum.clear()
        written = await _in_thread(
            download_archive, "BTCUSDT", Timeframe.M1, ["2024-01", "2024-02"], tmp_path, fake.url
        )
    finally:
        await fake.stop()
    assert [p.name for p in written] == ["BTCUSDT-1m-2024-02.csv"]
    jan = list(read_file(tmp_path / "BTCUSDT-1m-2024-01.csv", strict=True))
    feb = list(read_file(tmp_path / "BTCUSDT-1m-2024-02.csv", strict=True))
    assert len(jan) + len(feb) == 20 and len(jan) == 10


async def _in_thread(fn, *args):
    import asyncio

    return await asyncio.to_thread(fn, *args)
