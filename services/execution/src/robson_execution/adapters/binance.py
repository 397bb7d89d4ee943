"""The exchange port, on python-binance's ``AsyncClient`` (REST). Every call returns an
``Outcome``-classified result; nothing here decides what to do about it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
from binance import AsyncClient
from binance.exceptions import BinanceAPIException, BinanceRequestException

from robson_execution.adapters.vault import ApiCredentials
from robson_execution.domain.outcomes import Kind, Outcome, classify_http
from robson_execution.domain.pacing import RatePacer, retry_after_seconds
from robson_execution.domain.timesync import TimeSync, clock_offset_ms

TIMESTAMP_OUTSIDE_WINDOW = -1021
PRODUCTION_REST = "https://api.binance.com"
TESTNET_REST = "https://testnet.binance.vision"
PRODUCTION_WS_API = "wss://ws-api.binance.com:443/ws-api/v3"
TESTNET_WS_API = "wss://ws-api.testnet.binance.vision/ws-api/v3"


@dataclass(frozen=True)
class Endpoints:
    rest: str
    ws_api: str

    @classmethod
    def for_account(cls, testnet: bool, rest_override: str = "", ws_override: str = "") -> Endpoints:
        rest = rest_override or (TESTNET_REST if testnet else PRODUCTION_REST)
        ws = ws_override or (TESTNET_WS_API if testnet else PRODUCTION_WS_API)
        return cls(rest.rstrip("/"), ws)


@dataclass
class Result:
    outcome: Outcome
    data: Any = None

    @property
    def ok(self) -> bool:
        return self.outcome.kind is Kind.OK


@dataclass
class BinanceGateway:
    """One per account (keys differ); shares the pacing state of its endpoint."""

    credentials: ApiCredentials
    endpoints: Endpoints
    timeout_seconds: float = 10.0
    recv_window_ms: int = 5000
    pacer: RatePacer = field(default_factory=RatePacer)
    bans: dict[str, float] | None = None
    """Shared by every account's gateway: a 429/418 ban is per IP, so it holds every gateway
    to the same endpoint (monotonic end time per REST endpoint)."""
    clock: TimeSync = field(default_factory=TimeSync)
    _client: AsyncClient | None = None

    def client(self) -> AsyncClient:
        if self._client is None:
            c = AsyncClient(self.credentials.api_key, self.credentials.api_secret)
            # python-binance builds URLs from API_URL (+ "/v3/<path>"); point it at our endpoint.
            c.API_URL = f"{self.endpoints.rest}/api"
            c.API_TESTNET_URL = f"{self.endpoints.rest}/api"
            c.REQUEST_TIMEOUT = self.timeout_seconds
            c.REQUEST_RECVWINDOW = self.recv_window_ms
            c.timestamp_offset = self.clock.offset_ms
            self._client = c
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close_connection()
            self._client = None

    def server_now_ms(self) -> int:
        """Our clock corrected by the last measured offset: what signed requests carry."""
        return int(time.time() * 1000) + self.clock.offset_ms

    async def sync_time(self) -> Result:
        """``GET /api/v3/time``: measure the exchange clock's offset from ours."""
        sent = int(time.time() * 1000)
        res = await self._call("get_server_time")
        received = int(time.time() * 1000)
        if res.ok:
            self.clock = self.clock.synced(clock_offset_ms(int(res.data["serverTime"]), sent, received),
                                           time.monotonic())
            self.client().timestamp_offset = self.clock.offset_ms
        else:
            self.clock = self.clock.failed(time.monotonic())
        return res

    async def call(self, method: str, *, is_order: bool = False, **params: Any) -> Result:
        """One request; syncs the clock first when due, and after -1021 (timestamp outside the
        recvWindow: the request was not processed) resyncs and tries once more."""
        if self.clock.due(time.monotonic()):
            await self.sync_time()
        result = await self._call(method, is_order=is_order, **params)
        if result.outcome.code == TIMESTAMP_OUTSIDE_WINDOW:
            self.clock = self.clock.expired()
            if (await self.sync_time()).ok:
                result = await self._call(method, is_order=is_order, **params)
        return result

    async def _call(self, method: str, *, is_order: bool = False, **params: Any) -> Result:
        now = time.monotonic()
        wait = self.pacer.delay(now, is_order)
        if self.bans is not None:
            wait = max(wait, self.bans.get(self.endpoints.rest, 0.0) - now)
        if wait > 0:
            await asyncio.sleep(min(wait, 60))
        client = self.client()
        # python-binance signs by writing into a ``data`` dict: a retry must start from a clean copy.
        params = {k: dict(v) if isinstance(v, dict) else v for k, v in params.items()}
        try:
            data = await getattr(client, method)(**params)
        except BinanceAPIException as exc:
            headers = _headers(exc.response)
            self._observe(headers)
            outcome = classify_http(exc.status_code, int(exc.code or 0), str(exc.message),
                                    retry_after_seconds(headers))
            if outcome.kind is Kind.RATE_LIMITED:
                self.pacer = self.pacer.ban(outcome.retry_after, time.monotonic())
                if self.bans is not None:
                    self.bans[self.endpoints.rest] = max(self.bans.get(self.endpoints.rest, 0.0),
                                                         self.pacer.banned_until)
            return Result(outcome)
        except (TimeoutError, aiohttp.ClientError, BinanceRequestException, ConnectionError) as exc:
            return Result(Outcome(Kind.UNKNOWN, 0, f"{type(exc).__name__}: {exc}"))
        self._observe(_headers(client.response))
        return Result(Outcome(Kind.OK), data)

    def _observe(self, headers: dict[str, str]) -> None:
        self.pacer = self.pacer.observe(headers, time.monotonic())

    # ---- endpoints ------------------------------------------------------------------------
    async def exchange_info(self) -> Result:
        return await self.call("get_exchange_info")

    async def place_order(self, params: dict[str, Any]) -> Result:
        return await self.call("create_order", is_order=True, newOrderRespType="FULL", **params)

    async def place_oco(self, params: dict[str, Any]) -> Result:
        return await self.call("create_oco_order", is_order=True, **params)

    async def query_order(self, symbol: str, client_order_id: str) -> Result:
        return await self.call("get_order", symbol=symbol, origClientOrderId=client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Result:
        return await self.call("cancel_order", symbol=symbol, origClientOrderId=client_order_id)

    async def cancel_order_list(self, symbol: str, list_client_id: str) -> Result:
        # python-binance has no wrapper for DELETE /api/v3/orderList; use its signed request.
        return await self.call("_delete", path="orderList", signed=True,
                               data={"symbol": symbol, "listClientOrderId": list_client_id})

    async def open_orders(self) -> Result:
        return await self.call("get_open_orders")

    async def trades_for(self, symbol: str, exchange_order_id: int) -> Result:
        return await self.call("get_my_trades", symbol=symbol, orderId=exchange_order_id)

    async def account(self) -> Result:
        return await self.call("get_account")

    async def prices(self) -> Result:
        """Every symbol's last price (``GET /api/v3/ticker/price``, no symbol)."""
        return await self.call("get_all_tickers")


def _headers(response: Any) -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in response.headers.items()}
    except Exception:
        return {}


def dec(value: Decimal) -> str:
    return format(value.normalize(), "f")
