"""`python -m robson_signal` configured only by env vars (as the robson CLI starts it):
a gzipped headered replay file with bad rows is published except the bad rows, which are
reported with their line numbers."""

from __future__ import annotations

import gzip

import httpx
from robson_contracts import Candle
from robson_contracts import subjects as s
from robson_kit.testing import ADMIN_HEADERS, ServiceProcess, read_stream, wait_until

ROWS = [
    "open_time,open,high,low,close,volume",
    "1704067200000,10,12,9,11,5",
    "1704067260000,11,13,10,12,5",
    "1704067320000,12,oops,10,12,5",  # line 4: corrupt
    "1704067260000,11,13,10,12,5",  # line 5: goes back in time
    "1704067380000,12,14,11,13,5",
]


async def test_env_configured_replay_process_skips_bad_rows_with_line_numbers(
    bus, nats_url, database_url, schema, tmp_path
) -> None:
    path = tmp_path / "ETHUSDT-1m-2024-01.csv.gz"
    path.write_bytes(gzip.compress("\n".join(ROWS).encode()))
    env = {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "ROBSON_SIGNAL_DB_SCHEMA": schema,
        "ROBSON_SIGNAL_FEED": "replay",
        "ROBSON_SIGNAL_REPLAY_PATH": str(path),
        "ROBSON_SIGNAL_REPLAY_SPEED": "max",
    }
    proc = ServiceProcess(
        "robson_signal", env, "ROBSON_SIGNAL_HTTP_PORT", tmp_path / "signal.log"
    ).start()
    try:
        async with httpx.AsyncClient(headers=ADMIN_HEADERS, base_url=proc.url) as http:

            async def finished():
                body = (await http.get("/feed")).json()
                return body if body["finished"] else None

            status = await wait_until(finished, message="replay finished")
    finally:
        proc.stop()
    assert status["candles"] == 3 and status["skipped_rows"] == 2
    assert status["issues"][0].startswith("ETHUSDT-1m-2024-01.csv.gz:4: non-numeric")
    assert status["issues"][1].startswith("ETHUSDT-1m-2024-01.csv.gz:5: open_time")
    candles = [m for m in await read_stream(bus, s.ALL_CANDLES) if isinstance(m, Candle)]
    assert [str(c.close) for c in candles] == ["11", "12", "13"]
