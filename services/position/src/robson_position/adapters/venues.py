"""Reading a position's orders and fills from the venues' HTTP APIs (paper, execution).

paper: ``GET /orders?account_id&position_id`` and ``GET /fills?account_id&order_id``.
execution: ``GET /accounts/{id}/orders`` and ``GET /accounts/{id}/fills`` (whole account; this
position's orders are those whose id starts with ``<position_id>-``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx
from robson_contracts import Liquidity, OrderRole, OrderSpec, TradingMode

from robson_position.domain.state import PositionState
from robson_position.domain.venueview import VenueFill, VenueOrder, VenueView

PAGE = 1000


class VenueUnavailable(Exception):
    """The venue could not be asked (down, timeout, unexpected answer)."""


class VenueReader(Protocol):
    async def view(self, state: PositionState) -> VenueView: ...

    async def working_orders(self, account_id: str) -> list[VenueOrder] | None:
        """The account's live orders at the venue in one read, or None when the answer may be
        incomplete (a full page): then each position's ``view`` is the answer."""
        ...

    async def close(self) -> None: ...


class _Http:
    def __init__(self, base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None,
                 token: str = "") -> None:
        """``token``: position's service token (read scope), sent to the venue's API."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport,
                                        headers=headers)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = await self.client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise VenueUnavailable(f"{self.client.base_url}{path}: {type(exc).__name__} {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise VenueUnavailable(f"{self.client.base_url}{path}: HTTP {response.status_code} "
                                   f"{response.text[:200]}")
        return response.json()

    async def close(self) -> None:
        await self.client.aclose()


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _role(value: Any) -> OrderRole | None:
    return OrderRole(value) if value else None


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class PaperReader(_Http):
    async def view(self, state: PositionState) -> VenueView:
        rows = await self.get("/orders", {"account_id": state.account_id,
                                          "position_id": state.position_id, "limit": PAGE}) or []
        orders = [self._order(r) for r in rows]
        fills: list[VenueFill] = []
        for o in orders:
            if o.filled_qty > 0:
                found = await self.get("/fills", {"account_id": state.account_id,
                                                  "order_id": o.order_id, "limit": PAGE}) or []
                fills += [self._fill(f) for f in found]
        return VenueView(orders, fills)

    async def working_orders(self, account_id: str) -> list[VenueOrder] | None:
        rows = await self.get("/orders", {"account_id": account_id, "status": "OPEN",
                                          "limit": PAGE}) or []
        return None if len(rows) >= PAGE else [self._order(r) for r in rows]

    @staticmethod
    def _order(r: dict[str, Any]) -> VenueOrder:
        spec = OrderSpec(order_id=r["order_id"], symbol=r["symbol"], side=r["side"], type=r["type"],
                         quantity=_dec(r["quantity"]), price=_dec(r.get("price")),
                         stop_price=_dec(r.get("stop_price")), time_in_force=r["time_in_force"],
                         role=_role(r.get("role")))
        return VenueOrder(spec=spec, status=r["status"], filled_qty=_dec(r["filled_qty"]) or Decimal(0),
                          list_id=r.get("list_id"), role=_role(r.get("role")),
                          updated_at=_when(r.get("updated_at")))

    @staticmethod
    def _fill(f: dict[str, Any]) -> VenueFill:
        return VenueFill(fill_id=f["fill_id"], order_id=f["order_id"], price=Decimal(f["price"]),
                         quantity=Decimal(f["quantity"]), fee=Decimal(f["fee"]),
                         fee_asset=f["fee_asset"], liquidity=Liquidity(f["liquidity"]),
                         filled_at=datetime.fromisoformat(f["filled_at"]))


class ExecutionReader(_Http):
    async def view(self, state: PositionState) -> VenueView:
        account = state.account_id
        rows = await self.get(f"/accounts/{account}/orders") or []
        mine = [r for r in rows if r["order_id"].startswith(f"{state.position_id}-")]
        orders = [self._order(r) for r in mine]
        by_client = {r["client_order_id"]: r["order_id"] for r in mine}
        fills: list[VenueFill] = []
        if any(o.filled_qty > 0 for o in orders):
            found = await self.get(f"/accounts/{account}/fills") or []
            fills = [self._fill(f, by_client[f["client_order_id"]]) for f in found
                     if f["client_order_id"] in by_client]
        return VenueView(orders, fills)

    async def working_orders(self, account_id: str) -> list[VenueOrder] | None:
        rows = await self.get(f"/accounts/{account_id}/orders") or []
        return [o for o in map(self._order, rows) if o.live]

    @staticmethod
    def _order(r: dict[str, Any]) -> VenueOrder:
        spec = OrderSpec.model_validate({**r["spec"], "order_id": r["order_id"]})
        status = "NEW" if r["status"] == "PENDING" else r["status"]
        return VenueOrder(spec=spec, status=status, filled_qty=Decimal(r["filled_qty"]),
                          list_id=r.get("list_id"), role=_role(r.get("role")))

    @staticmethod
    def _fill(f: dict[str, Any], order_id: str) -> VenueFill:
        # execution publishes fill ids as "<symbol>-<trade id>" (handlers/events.py there)
        return VenueFill(fill_id=f"{f['symbol']}-{f['trade_id']}", order_id=order_id,
                         price=Decimal(f["price"]), quantity=Decimal(f["quantity"]),
                         fee=Decimal(f["fee"]), fee_asset=f["fee_asset"],
                         liquidity=Liquidity.MAKER if f["is_maker"] else Liquidity.TAKER,
                         filled_at=datetime.fromisoformat(f["filled_at"]),
                         fee_quote=Decimal(f["fee_quote"]) if f.get("fee_quote") is not None else None)


class Venues:
    """The reader for each trading mode."""

    def __init__(self, readers: dict[TradingMode, VenueReader]) -> None:
        self.readers = readers

    @classmethod
    def from_urls(cls, paper_url: str, execution_url: str, timeout: float, token: str = "") -> Venues:
        return cls({TradingMode.PAPER: PaperReader(paper_url, timeout, token=token),
                    TradingMode.LIVE: ExecutionReader(execution_url, timeout, token=token)})

    async def view(self, state: PositionState) -> VenueView:
        return await self.readers[state.venue].view(state)

    async def working_orders(self, venue: TradingMode, account_id: str) -> list[VenueOrder] | None:
        return await self.readers[venue].working_orders(account_id)

    async def close(self) -> None:
        for reader in self.readers.values():
            await reader.close()
