"""A local fake Binance speaking the real protocol: REST (klines, ping/time, premiumIndex,
fundingRate, openInterest), combined WebSocket streams, and the public data archive's
monthly zips with .CHECKSUM files. Faults are injected by the tests."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from collections import defaultdict
from typing import Any

from aiohttp import WSMsgType, web
from robson_kit.embedded import free_port

Row = list[Any]


class FakeBinance:
    def __init__(self) -> None:
        self.klines: dict[tuple[str, str], list[Row]] = defaultdict(list)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.sockets: list[tuple[web.WebSocketResponse, set[str]]] = []
        self.connections = 0
        self.fail_next = 0
        self.bad_checksum: set[str] = set()
        self.premium: dict[str, dict[str, Any]] = {}
        self.open_interest: dict[str, dict[str, Any]] = {}
        self.funding: dict[str, list[dict[str, Any]]] = {}
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        return {
            "binance_api_url": f"{self.url}/api",
            "binance_futures_url": f"{self.url}/fapi",
            "binance_stream_url": f"ws://127.0.0.1:{self.port}/",
        }

    async def start(self) -> FakeBinance:
        app = web.Application(middlewares=[self._faults])
        app.router.add_get("/api/v3/ping", lambda _: web.json_response({}))
        app.router.add_get("/api/v3/time", self._time)
        app.router.add_get("/api/v3/klines", self._klines)
        app.router.add_get("/fapi/v1/premiumIndex", self._premium)
        app.router.add_get("/fapi/v1/openInterest", self._open_interest)
        app.router.add_get("/fapi/v1/fundingRate", self._funding)
        app.router.add_get("/stream", self._stream)
        app.router.add_get("/data/spot/monthly/klines/{symbol}/{tf}/{name}", self._archive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        await self.drop_sockets()
        if self._runner:
            await self._runner.cleanup()

    # --- faults and pushes -----------------------------------------------------------
    @web.middleware
    async def _faults(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.query)))
        if self.fail_next > 0 and request.path != "/stream":
            self.fail_next -= 1
            return web.json_response({"code": -1001, "msg": "Internal error"}, status=500)
        return await handler(request)

    async def drop_sockets(self) -> None:
        """Close every stream connection, as Binance does on its 24h limit or a network blip."""
        for ws, _ in list(self.sockets):
            await ws.close()
        self.sockets.clear()

    async def push(self, stream: str, data: dict[str, Any]) -> int:
        sent = 0
        for ws, streams in list(self.sockets):
            if stream in streams and not ws.closed:
                await ws.send_str(json.dumps({"stream": stream, "data": data}))
                sent += 1
        return sent

    async def push_kline(self, symbol: str, tf: str, row: Row, closed: bool = True) -> int:
        k = {
            "t": row[0],
            "T": row[6],
            "s": symbol,
            "i": tf,
            "o": row[1],
            "h": row[2],
            "l": row[3],
            "c": row[4],
            "v": row[5],
            "x": closed,
        }
        return await self.push(
            f"{symbol.lower()}@kline_{tf}", {"e": "kline", "E": row[6], "s": symbol, "k": k}
        )

    async def push_trade(self, symbol: str, trade_id: int, price: str, qty: str, at_ms: int) -> int:
        data = {
            "e": "trade",
            "E": at_ms,
            "s": symbol,
            "t": trade_id,
            "p": price,
            "q": qty,
            "T": at_ms,
            "m": False,
        }
        return await self.push(f"{symbol.lower()}@trade", data)

    # --- handlers ----------------------------------------------------------------------
    async def _time(self, _: web.Request) -> web.Response:
        import time

        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def _klines(self, request: web.Request) -> web.Response:
        q = request.query
        rows = self.klines.get((q["symbol"], q["interval"]))
        if rows is None:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        limit = min(int(q.get("limit", 500)), 1000)
        selected = [r for r in rows if start <= r[0] <= end]
        selected = selected[:limit] if "startTime" in q else selected[-limit:]
        return web.json_response(selected)

    async def _premium(self, request: web.Request) -> web.Response:
        return web.json_response(self.premium[request.query["symbol"]])

    async def _open_interest(self, request: web.Request) -> web.Response:
        return web.json_response(self.open_interest[request.query["symbol"]])

    async def _funding(self, request: web.Request) -> web.Response:
        rows = self.funding[request.query["symbol"]]
        return web.json_response(rows[-int(request.query.get("limit", 100)) :])

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        entry = (ws, set(request.query.get("streams", "").split("/")))
        self.sockets.append(entry)
        self.connections += 1
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
        if entry in self.sockets:
            self.sockets.remove(entry)
        return ws

    def archive_zip(self, symbol: str, tf: str, month: str) -> tuple[str, bytes]:
        name = f"{symbol}-{tf}-{month}.csv"
        rows = [r for r in self.klines[(symbol, tf)] if _month_of(r[0]) == month]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr(name, "".join(",".join(str(x) for x in r) + "\n" for r in rows))
        return name, buffer.getvalue()

    async def _archive(self, request: web.Request) -> web.Response:
        symbol, tf, name = (
            request.match_info["symbol"],
            request.match_info["tf"],
            request.match_info["name"],
        )
        month = name.removeprefix(f"{symbol}-{tf}-").split(".")[0]
        if (symbol, tf) not in self.klines or not any(
            _month_of(r[0]) == month for r in self.klines[(symbol, tf)]
        ):
            return web.Response(status=404, text="<Error><Code>NoSuchKey</Code></Error>")
        csv_name, blob = self.archive_zip(symbol, tf, month)
        if name.endswith(".zip"):
            return web.Response(body=blob, content_type="application/zip")
        digest = hashlib.sha256(blob).hexdigest()
        if month in self.bad_checksum:
            digest = "0" * 64
        return web.Response(text=f"{digest}  {csv_name.removesuffix('.csv')}.zip\n")


def _month_of(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m")


def kline_row(open_ms: int, step_ms: int, close: float, spread: float = 1.0) -> Row:
    o = f"{close - spread / 2:.2f}"
    c = f"{close:.2f}"
    return [
        open_ms,
        o,
        f"{close + spread:.2f}",
        f"{close - spread:.2f}",
        c,
        "12.5",
        open_ms + step_ms - 1,
        "1000.0",
        42,
        "6.0",
        "500.0",
        "0",
    ]


async def started() -> FakeBinance:
    return await FakeBinance().start()


__all__ = ["FakeBinance", "asyncio", "kline_row", "started"]
