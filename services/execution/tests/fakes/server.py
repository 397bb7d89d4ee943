"""The fake Binance spot exchange as a real server: REST (``/api/v3/...``) and the WebSocket API
user data stream (``/ws-api/v3``, ``userDataStream.subscribe.signature``), on a free loopback
port, with HMAC-SHA256 + timestamp/recvWindow checks, exchange filters, weight headers and
injectable faults."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import WSMsgType, web

from .engine import EngineError, FakeEngine, Order
from .filters import EXCHANGE_INFO, check_filters, filters_of

# Binance's request weights (spot, 2024): GET order 4, openOrders 6 for one symbol or 80 for
# all, myTrades 5 with orderId or 20, account 20, exchangeInfo 20; order placement/cancel 1.
WEIGHTS = {("GET", "order"): 4, ("GET", "openOrders"): 80, ("GET", "allOrders"): 20, ("GET", "myTrades"): 20,
           ("GET", "account"): 20, ("GET", "exchangeInfo"): 20, ("GET", "orderList"): 4,
           ("GET", "openOrderList"): 6}


def weight(method: str, path: str, params: dict[str, str]) -> int:
    if path == "openOrders" and "symbol" in params:
        return 6
    if path == "myTrades" and "orderId" in params:
        return 5
    return WEIGHTS.get((method, path), 1)


@dataclass
class Fault:
    """One injected fault for requests matching ``method`` and ``path`` (e.g. ``POST order``).

    kind: ``429`` / ``418`` (with Retry-After), ``500``/``503`` (before processing),
    ``timeout_after_accept`` (processed, then the response is held past the client timeout),
    ``reset_after_accept`` (processed, then the connection is dropped), ``filter_failure``
    (-1013 whatever the filters say).
    """

    method: str
    path: str
    kind: str
    times: int = 1
    retry_after: int = 1
    hold_seconds: float = 5.0


@dataclass
class FakeBinance:
    keys: dict[str, str] = field(default_factory=lambda: {"test-key": "test-secret"})
    engine: FakeEngine = field(default_factory=FakeEngine)
    recv_window_max: int = 60000
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    refuse_streams: bool = False
    exchange_info: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(EXCHANGE_INFO))
    errors: list[tuple[str, str, int]] = field(default_factory=list)
    """Every error answered: (method, path, Binance code)."""
    used_weight: int = 0
    order_count: int = 0
    weight_window_ms: int = 60_000
    """Binance counts weight per minute; a benchmark may shorten it to measure work, not budget."""
    port: int = 0

    def __post_init__(self) -> None:
        self._sockets: dict[web.WebSocketResponse, int] = {}
        self._windows = (0, 0)  # (minute, 10-second slot) the counters belong to
        self._runner: web.AppRunner | None = None
        self.engine.listeners.append(self._broadcast)

    # ---- lifecycle -----------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws-api/v3"

    async def start(self) -> FakeBinance:
        app = web.Application()
        app.router.add_route("*", "/api/v3/{path:.*}", self._rest)
        app.router.add_get("/ws-api/v3", self._ws)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        return self

    async def stop(self) -> None:
        await self.drop_streams()
        if self._runner:
            await self._runner.cleanup()

    # ---- test controls -------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def set_filter(self, symbol: str, filter_type: str, **values: str) -> None:
        """Change a symbol's filter (e.g. ``set_filter("BTCUSDT", "LOT_SIZE", stepSize="0.001")``)."""
        filters_of(self.exchange_info, symbol)[filter_type].update(values)

    @property
    def clock_skew_ms(self) -> int:
        return self.engine.skew_ms

    @clock_skew_ms.setter
    def clock_skew_ms(self, value: int) -> None:
        self.engine.skew_ms = value

    def error_codes(self, method: str | None = None, path: str | None = None) -> list[int]:
        return [c for m, p, c in self.errors if method in (None, m) and path in (None, p)]

    async def drop_streams(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        self._sockets.clear()

    @property
    def stream_count(self) -> int:
        return len(self._sockets)

    def orders_with_client_id(self, client_id: str) -> list[Order]:
        return self.engine.by_client_id(client_id)

    def order_posts(self) -> list[dict[str, str]]:
        return [p for m, path, p in self.requests if m == "POST" and path in ("order", "orderList/oco")]

    # ---- REST ----------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        body = await request.text()
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(dict(parse_qsl(body, keep_blank_values=True)))
        self.requests.append((request.method, path, params))
        self._count(request.method, path, params)
        fault = self._take_fault(request.method, path)
        if fault and fault.kind in ("429", "418"):
            self.errors.append((request.method, path, -1003))
            return self._error(int(fault.kind), -1003, "Too many requests.", {"Retry-After": str(fault.retry_after)})
        if fault and fault.kind == "filter_failure":
            self.errors.append((request.method, path, -1013))
            return self._error(400, -1013, "Filter failure: LOT_SIZE")
        if fault and fault.kind in ("500", "502", "503"):
            return web.Response(status=int(fault.kind), text="<html>server error</html>", headers=self._headers())
        try:
            self._authenticate(request, path, body, params)
            result = self._dispatch(request.method, path, params)
        except EngineError as exc:
            self.errors.append((request.method, path, exc.code))
            return self._error(exc.status, exc.code, exc.msg)
        if fault and fault.kind == "timeout_after_accept":
            await asyncio.sleep(fault.hold_seconds)
        if fault and fault.kind == "reset_after_accept":
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=500)
        return web.json_response(result, headers=self._headers())

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.path == path and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _count(self, method: str, path: str, params: dict[str, str]) -> None:
        """Binance's windows: request weight per minute, orders per 10 seconds."""
        now = self.engine.now()
        minute, slot = now // self.weight_window_ms, now // 10_000
        if minute != self._windows[0]:
            self.used_weight = 0
        if slot != self._windows[1]:
            self.order_count = 0
        self._windows = (minute, slot)
        self.used_weight += weight(method, path, params)

    def _headers(self) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(self.used_weight), "X-MBX-ORDER-COUNT-10S": str(self.order_count)}

    def _error(self, status: int, code: int, msg: str, extra: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status, headers={**self._headers(), **(extra or {})})

    def _authenticate(self, request: web.Request, path: str, body: str, params: dict[str, str]) -> None:
        if path in ("ping", "time", "exchangeInfo", "ticker/price"):
            return
        secret = self.keys.get(request.headers.get("X-MBX-APIKEY", ""))
        if secret is None:
            raise EngineError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        total = "&".join(p for p in (request.query_string, body) if p)
        payload, _, signature = total.rpartition("&signature=")
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise EngineError(-1022, "Signature for this request is not valid.")
        self._check_timestamp(params)

    def _check_timestamp(self, params: dict[str, Any]) -> None:
        ts, now = int(params.get("timestamp", "0")), self.engine.now()
        window = min(int(params.get("recvWindow", "5000")), self.recv_window_max)
        if ts >= now + 1000 or now - ts > window:
            raise EngineError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _dispatch(self, method: str, path: str, p: dict[str, str]) -> Any:
        e = self.engine
        routes: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "ping"): lambda: {},
            ("GET", "time"): lambda: {"serverTime": e.now()},
            ("GET", "exchangeInfo"): lambda: self.exchange_info,
            ("GET", "ticker/price"): lambda: (
                {"symbol": p["symbol"], "price": str(e.prices[p["symbol"]])} if "symbol" in p
                else [{"symbol": k, "price": str(v)} for k, v in e.prices.items()]),
            ("POST", "order"): lambda: self._new_order(p),
            ("GET", "order"): lambda: self._lookup(p).as_dict(),
            ("DELETE", "order"): lambda: e.cancel(self._lookup(p)).as_dict(),
            ("GET", "openOrders"): lambda: [o.as_dict() for o in e.open_orders(p.get("symbol"))],
            ("GET", "allOrders"): lambda: [o.as_dict() for o in e.orders if o.symbol == p["symbol"]],
            ("GET", "myTrades"): lambda: self._my_trades(p),
            ("GET", "account"): lambda: self._account(),
            ("POST", "orderList/oco"): lambda: self._new_oco(p),
            ("DELETE", "orderList"): lambda: self._cancel_list(p),
            ("GET", "orderList"): lambda: self._list_for(p),
            ("GET", "openOrderList"): lambda: [v for v in e.lists.values() if v["listOrderStatus"] == "EXECUTING"],
        }
        route = routes.get((method, path))
        if route is None:
            raise EngineError(-1000, f"fake exchange does not implement {method} {path}", 404)
        return route()

    def _lookup(self, p: dict[str, str]) -> Order:
        order_id = int(p["orderId"]) if "orderId" in p else None
        return self.engine.find(p["symbol"], order_id, p.get("origClientOrderId"))

    def _new_order(self, p: dict[str, str]) -> dict[str, Any]:
        order = self._place(p["symbol"], p["side"], p["type"], p.get("quantity"), p.get("price"),
                            p.get("stopPrice"), p.get("timeInForce", "GTC"), p["newClientOrderId"])
        result = order.as_dict() | {"transactTime": self.engine.now(), "fills": [
            {"price": t["price"], "qty": t["qty"], "commission": t["commission"],
             "commissionAsset": t["commissionAsset"], "tradeId": t["id"]}
            for t in (tr.as_dict() for tr in self.engine.trades if tr.order is order)]}
        return result

    def _place(self, symbol: str, side: str, type_: str, qty: str | None, price: str | None,
               stop: str | None, tif: str, client_id: str, list_id: int = -1) -> Order:
        quantity, price_d, stop_d = _dec(qty), _dec(price), _dec(stop)
        if quantity is None:
            raise EngineError(-1102, "Mandatory parameter 'quantity' was not sent.")
        check_filters(self.exchange_info, symbol, quantity, price_d, stop_d, self.engine.prices.get(symbol))
        self.order_count += 1
        return self.engine.place(symbol, side, type_, quantity, price_d, stop_d, tif, client_id, list_id)

    def _new_oco(self, p: dict[str, str]) -> dict[str, Any]:
        if any(o.client_order_id in (p.get("aboveClientOrderId"), p.get("belowClientOrderId"))
               for o in self.engine.open_orders()):
            raise EngineError(-2010, "Duplicate order sent.")
        limit_leg = "above" if p["side"] == "SELL" else "below"
        stop_leg = "below" if limit_leg == "above" else "above"
        self.engine.check_oco_prices(p["symbol"], p["side"], _dec(p.get(f"{limit_leg}Price")),
                                     _dec(p.get(f"{stop_leg}StopPrice")))
        list_id = self.engine.new_list_id()
        self.engine.lists[list_id] = {"orderListId": list_id, "contingencyType": "OCO",
                                      "listStatusType": "EXEC_STARTED", "listOrderStatus": "EXECUTING",
                                      "listClientOrderId": p["listClientOrderId"], "symbol": p["symbol"],
                                      "orders": []}
        legs = []
        for leg in ("below", "above"):
            legs.append(self._place(p["symbol"], p["side"], p[f"{leg}Type"], p["quantity"],
                                    p.get(f"{leg}Price"), p.get(f"{leg}StopPrice"),
                                    p.get(f"{leg}TimeInForce", "GTC"), p[f"{leg}ClientOrderId"], list_id))
        self.engine.lists[list_id]["orders"] = [
            {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id} for o in legs]
        return self.engine.lists[list_id] | {"orderReports": [o.as_dict() for o in legs]}

    def _find_list(self, p: dict[str, str]) -> dict[str, Any]:
        for lst in self.engine.lists.values():
            if lst["listClientOrderId"] == p.get("listClientOrderId") or str(lst["orderListId"]) == p.get("orderListId"):
                return lst
        raise EngineError(-2011, "Order list does not exist.")

    def _list_for(self, p: dict[str, str]) -> dict[str, Any]:
        if "origClientOrderId" in p:
            p = {**p, "listClientOrderId": p["origClientOrderId"]}
        return self._find_list(p)

    def _cancel_list(self, p: dict[str, str]) -> dict[str, Any]:
        lst = self._find_list(p)
        if lst["listOrderStatus"] != "EXECUTING":
            raise EngineError(-2011, "Unknown order list sent.")
        reports = [self.engine.cancel(o).as_dict() for o in self.engine.orders
                   if o.list_id == lst["orderListId"] and o.status in ("NEW", "PARTIALLY_FILLED")]
        lst["listOrderStatus"] = "ALL_DONE"
        return lst | {"orderReports": reports}

    def _my_trades(self, p: dict[str, str]) -> list[dict[str, Any]]:
        trades = [t for t in self.engine.trades if t.order.symbol == p["symbol"]]
        if "orderId" in p:
            trades = [t for t in trades if t.order.order_id == int(p["orderId"])]
        if "fromId" in p:
            trades = [t for t in trades if t.trade_id >= int(p["fromId"])]
        return [t.as_dict() for t in trades]

    def _account(self) -> dict[str, Any]:
        return {"canTrade": True, "accountType": "SPOT", "updateTime": self.engine.now(), "balances": [
            {"asset": a, "free": format(self.engine.free(a), "f"), "locked": format(v - self.engine.free(a), "f")}
            for a, v in self.engine.balances.items()]}

    # ---- WebSocket API user data stream ---------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        if self.refuse_streams:
            await ws.close()
            return ws
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            req = json.loads(msg.data)
            await ws.send_json(self._ws_request(ws, req))
        self._sockets.pop(ws, None)
        return ws

    def _ws_request(self, ws: web.WebSocketResponse, req: dict[str, Any]) -> dict[str, Any]:
        method, params, rid = req.get("method"), dict(req.get("params") or {}), req.get("id")
        if method == "userDataStream.subscribe.signature":
            secret = self.keys.get(params.get("apiKey", ""))
            signature = params.pop("signature", "")
            payload = urlencode(sorted(params.items()))
            if secret is None or not hmac.compare_digest(
                    hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest(), signature):
                return {"id": rid, "status": 401, "error": {"code": -1022, "msg": "Signature invalid."}}
            try:
                self._check_timestamp(params)
            except EngineError as exc:
                return {"id": rid, "status": 400, "error": {"code": exc.code, "msg": exc.msg}}
            self._sockets[ws] = len(self._sockets)
            return {"id": rid, "status": 200, "result": {"subscriptionId": self._sockets[ws]}}
        if method == "ping":
            return {"id": rid, "status": 200, "result": {}}
        return {"id": rid, "status": 400, "error": {"code": -1000, "msg": f"unknown method {method}"}}

    def _broadcast(self, event: dict[str, Any]) -> None:
        for ws, sub_id in list(self._sockets.items()):
            if not ws.closed:
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().create_task(ws.send_json({"subscriptionId": sub_id, "event": event}))


def _dec(value: str | None) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise EngineError(-1100, f"Illegal characters found in parameter: {value}") from exc
