"""The fake venue's order book as the venues' HTTP APIs show it, served on a real port.

``VenueBook`` records every event the fake venue produces (published or lost) as paper's
``GET /orders`` / ``GET /fills`` rows. ``VenueApi`` serves them with paper's routes (with
``GET /live-orders``, every account's live orders paged by ``seq``), and with execution's
(``/accounts/{id}/orders``, ``/accounts/{id}/fills``), so a position process can re-sync and
be watched against it exactly as against the real services.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, HTTPException, Query
from robson_contracts import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderReplaced,
)
from robson_kit.embedded import free_port

LIVE = ("NEW", "PARTIALLY_FILLED")


def _s(value: Any) -> str | None:
    return None if value is None else format(value, "f")


class VenueBook:
    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.fills: list[dict[str, Any]] = []
        self.down = False
        """While down, every request answers 503."""
        self.reads: Counter[str] = Counter()
        """Requests served, by kind: ``position_orders`` (one position's orders),
        ``account_orders`` (an account's live orders), ``live_orders`` (a page of every
        account's), ``fills``."""
        self.live_pages_up: int | None = None
        """Set, the pages of ``GET /live-orders`` still answered: at 0 every further one
        answers 503 (a venue failing part way through a paged read)."""
        self.seq = 0
        """As paper's: each new order's ``seq`` is the next, so later orders page later."""

    def record(self, event: Any) -> None:
        if isinstance(event, OrderAccepted):
            self._new(event, event.order)
        elif isinstance(event, OrderReplaced):
            self.orders[event.order_id]["status"] = "CANCELED"
            self._new(event, event.order)
        elif isinstance(event, OrderFilled | OrderPartiallyFilled):
            row = self.orders[event.order_id]
            row["filled_qty"] = _s(event.cumulative_quantity)
            row["status"] = "FILLED" if isinstance(event, OrderFilled) else "PARTIALLY_FILLED"
            f = event.fill
            self.fills.append({"fill_id": f.fill_id, "account_id": event.account_id,
                               "order_id": event.order_id, "symbol": event.symbol,
                               "side": event.side.value, "price": _s(f.price), "quantity": _s(f.quantity),
                               "fee": _s(f.fee), "fee_asset": f.fee_asset, "liquidity": f.liquidity.value,
                               "filled_at": f.filled_at.isoformat(), "trade_id": len(self.fills) + 1})
        elif isinstance(event, OrderCanceled):
            self.orders[event.order_id]["status"] = "CANCELED"

    def _new(self, event: Any, spec: Any) -> None:
        self.seq += 1
        self.orders[spec.order_id] = {
            "seq": self.seq,
            "account_id": event.account_id, "order_id": spec.order_id, "symbol": spec.symbol,
            "side": spec.side.value, "type": spec.type.value, "quantity": _s(spec.quantity),
            "price": _s(spec.price), "stop_price": _s(spec.stop_price),
            "time_in_force": spec.time_in_force.value, "role": spec.role.value if spec.role else None,
            "list_id": event.list_id, "position_id": event.position_id, "status": "NEW",
            "filled_qty": "0", "updated_at": event.occurred_at.isoformat(),
        }

    def forget(self, order_id: str) -> None:
        """The venue loses an order (e.g. reset, or canceled by hand on the exchange)."""
        self.orders.pop(order_id)


def _app(book: VenueBook) -> FastAPI:
    app = FastAPI()

    def up() -> None:
        if book.down:
            raise HTTPException(503, "venue down")

    @app.get("/orders")
    async def orders(account_id: str, position_id: str | None = None, status: str | None = None,
                     limit: int = 200) -> list[dict[str, Any]]:
        up()
        book.reads["position_orders" if position_id else "account_orders"] += 1
        return [o for o in book.orders.values()
                if o["account_id"] == account_id
                and (position_id is None or o["position_id"] == position_id)
                and (status != "OPEN" or o["status"] in LIVE)][:limit]

    @app.get("/live-orders")
    async def live_orders(after_seq: Annotated[int, Query(ge=0)] = 0,
                          limit: Annotated[int, Query(ge=1, le=10000)] = 5000) -> dict[str, Any]:
        up()
        book.reads["live_orders"] += 1
        if book.live_pages_up is not None:
            if book.live_pages_up <= 0:
                raise HTTPException(503, "venue down part way")
            book.live_pages_up -= 1
        rows = sorted((o for o in book.orders.values() if o["status"] in LIVE and o["seq"] > after_seq),
                      key=lambda o: o["seq"])[:limit]
        return {"orders": [{"account_id": o["account_id"], "order_id": o["order_id"], "seq": o["seq"]}
                           for o in rows],
                "next_after_seq": rows[-1]["seq"] if len(rows) == limit else None}

    @app.get("/fills")
    async def fills(account_id: str, order_id: str, limit: int = 200) -> list[dict[str, Any]]:
        up()
        book.reads["fills"] += 1
        return [f for f in book.fills if f["account_id"] == account_id and f["order_id"] == order_id][:limit]

    @app.get("/accounts/{account_id}/orders")
    async def execution_orders(account_id: str) -> list[dict[str, Any]]:
        up()
        rows = [o for o in book.orders.values() if o["account_id"] == account_id]
        if not rows:
            raise HTTPException(404, f"account {account_id} is not known to execution")
        keys = ("order_id", "symbol", "side", "type", "quantity", "price", "stop_price",
                "time_in_force", "role")
        return [{"order_id": o["order_id"], "client_order_id": f"c{o['order_id']}"[:36],
                 "symbol": o["symbol"], "status": o["status"], "role": o["role"], "list_id": o["list_id"],
                 "spec": {k: o[k] for k in keys}, "exchange_order_id": 1, "filled_qty": o["filled_qty"],
                 "superseded": False, "reject_reason": None} for o in rows]

    @app.get("/accounts/{account_id}/fills")
    async def execution_fills(account_id: str) -> list[dict[str, Any]]:
        up()
        return [{"trade_id": f["trade_id"], "symbol": f["symbol"],
                 "client_order_id": f"c{f['order_id']}"[:36], "price": f["price"],
                 "quantity": f["quantity"], "fee": f["fee"], "fee_asset": f["fee_asset"],
                 "is_maker": f["liquidity"] == "MAKER", "filled_at": f["filled_at"], "source": "WS"}
                for f in book.fills if f["account_id"] == account_id]

    return app


class VenueApi:
    """``VenueBook`` over HTTP on 127.0.0.1 (uvicorn in the test's event loop)."""

    def __init__(self, book: VenueBook) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(_app(book), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> VenueApi:
        self._task = asyncio.create_task(self.server.serve())
        for _ in range(500):
            if self.server.started:
                return self
            if self._task.done():
                break
            await asyncio.sleep(0.02)
        raise RuntimeError(f"fake venue API did not start on port {self.port}")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=5)
