"""python-binance clients pointed at configurable endpoints (the real Binance or a fake)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from binance import AsyncClient, BinanceSocketManager
from robson_contracts import Timeframe

from robson_signal.domain.bars import Bar

KLINE_LIMIT = 1000


def make_client(api_url: str, futures_url: str) -> AsyncClient:
    """No network on construction (unlike ``AsyncClient.create``, which pings first)."""
    client = AsyncClient()
    client.API_URL = api_url.rstrip("/")
    client.FUTURES_URL = futures_url.rstrip("/")
    return client


def make_socket_manager(
    client: AsyncClient, stream_url: str, queue: int = 10_000
) -> BinanceSocketManager:
    manager = BinanceSocketManager(client, max_queue_size=queue)
    manager.STREAM_URL = stream_url if stream_url.endswith("/") else stream_url + "/"
    return manager


def bar_from_rest(row: list[Any], symbol: str, timeframe: Timeframe) -> Bar:
    """A REST/archive kline row: [open_time, o, h, l, c, v, close_time, ...]."""
    return Bar(
        symbol,
        timeframe,
        int(row[0]),
        Decimal(row[1]),
        Decimal(row[2]),
        Decimal(row[3]),
        Decimal(row[4]),
        Decimal(row[5]),
    )


def bar_from_ws(k: dict[str, Any]) -> Bar:
    """The ``k`` object of a kline stream event."""
    return Bar(
        k["s"],
        Timeframe(k["i"]),
        int(k["t"]),
        Decimal(k["o"]),
        Decimal(k["h"]),
        Decimal(k["l"]),
        Decimal(k["c"]),
        Decimal(k["v"]),
    )


async def fetch_klines(
    client: AsyncClient, symbol: str, timeframe: Timeframe, start_ms: int, end_ms: int
) -> list[Bar]:
    """Every kline with open_time in [start_ms, end_ms], paging by 1000."""
    bars: list[Bar] = []
    cursor = start_ms
    while cursor <= end_ms:
        rows = await client.get_klines(
            symbol=symbol,
            interval=timeframe.value,
            startTime=cursor,
            endTime=end_ms,
            limit=KLINE_LIMIT,
        )
        if not rows:
            break
        bars.extend(bar_from_rest(r, symbol, timeframe) for r in rows)
        cursor = int(rows[-1][0]) + timeframe.seconds * 1000
        if len(rows) < KLINE_LIMIT:
            break
    return bars
