"""Reading a position's orders and fills from the venues' HTTP APIs (paper, execution).

paper: ``GET /orders?account_id&position_id`` and ``GET /fills?account_id&order_id``; for the
stop watchdog, ``GET /live-orders?after_seq&limit`` (every account's live order ids, paged).
execution: ``GET /accounts/{id}/orders`` and ``GET /accounts/{id}/fills`` (whole account; this
position's orders are those whose id starts with ``<position_id>-``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx
from robson_contracts import Liquidity, OrderRole, OrderSpec, TradingMode

from robson_position.domain.state import PositionState
from robson_position.domain.venueview import VenueFill, VenueOrder, VenueView

PAGE = 1000
LIVE_PAGE = 5000
"""Live orders a page of paper's ``GET /live-orders`` asks for (paper allows up to 10,000)."""
MAX_LIVE_PAGES = 1000
"""A round reads at most this many pages (5 million live orders) before it gives up."""


class VenueUnavailable(Exception):
    """The venue could not be asked (down, timeout, unexpected answer)."""


class VenueReader(Protocol):
    async def view(self, state: PositionState) -> VenueView: ...

    async def live_order_ids(self, account_ids: set[str]) -> dict[str, set[str] | None]:
        """The ids of each asked account's live orders at the venue (an account with none: an
        empty set, a complete answer). None for an account whose answer may be incomplete:
        then each of its positions' ``view`` is the answer. An account the venue cannot be
        read for now is left out; ``VenueUnavailable`` when none can be."""
        ...

    async def close(self) -> None: ...


class _Http:
    def __init__(self, base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None,
                 token: str = "") -> None:
        """``token``: position's service token (read scope), sent to the venue's API."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport,
                                        headers=headers)

    async def get(self, path: str, params: dict[str, Any] | None = None,
                  missing_ok: bool = False) -> Any:
        """The answer's JSON. A 404 is no answer (``VenueUnavailable``): the venue does not know
        the account, or our token may not see it — never "it has no orders", on which the
        watchdog would place stops and close positions. ``missing_ok``: None for a route the
        venue may not have yet (an older version mid-deploy)."""
        try:
            response = await self.client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise VenueUnavailable(f"{self.client.base_url}{path}: {type(exc).__name__} {exc}") from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code != 200:
            raise VenueUnavailable(f"{self.client.base_url}{path}: HTTP {response.status_code} "
                                   f"{response.text[:200]}")
        return response.json()

    async def close(self) -> None:
        await self.client.aclose()

    @staticmethod
    async def each_account(account_ids: set[str],
                           read: Callable[[str], Awaitable[set[str] | None]]
                           ) -> dict[str, set[str] | None]:
        """``read`` of each account, one after another; an account that cannot be read is
        left out (not judged this round), the others answered."""
        found: dict[str, set[str] | None] = {}
        for account_id in sorted(account_ids):
            try:
                found[account_id] = await read(account_id)
            except VenueUnavailable:
                continue
        return found


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

    async def live_order_ids(self, account_ids: set[str]) -> dict[str, set[str] | None]:
        """All asked accounts from one paged read of every account's live orders: a round's
        cost does not grow with the number of accounts."""
        rows = await self._live_orders()
        if rows is None:  # a paper without the route (older, mid-deploy): a read per account
            return await self._per_account(account_ids)
        found: dict[str, set[str] | None] = {account_id: set() for account_id in account_ids}
        for account_id, order_id in rows:
            ids = found.get(account_id)
            if ids is not None:
                ids.add(order_id)
        return found

    async def _per_account(self, account_ids: set[str]) -> dict[str, set[str] | None]:
        """The release before's read: each account's open orders."""
        return await self.each_account(account_ids, self._open_ids)

    async def _open_ids(self, account_id: str) -> set[str] | None:
        """None for a full page (each position's view decides)."""
        rows = await self.get("/orders", {"account_id": account_id, "status": "OPEN",
                                          "limit": PAGE}) or []
        return None if len(rows) >= PAGE else {r["order_id"] for r in rows}

    async def _live_orders(self) -> list[tuple[str, str]] | None:
        """(account, order id) of every live order, page after page until one is not full.
        A page that fails fails the whole read: the pages before it may miss any account's.
        A cursor goes with a full page and is its last row's seq; anything else (or more than
        ``MAX_LIVE_PAGES`` pages) is no answer, so an odd paper cannot keep a round paging."""
        rows: list[tuple[str, str]] = []
        after = 0
        for _ in range(MAX_LIVE_PAGES):
            page = await self.get("/live-orders", {"after_seq": after, "limit": LIVE_PAGE},
                                  missing_ok=True)
            if page is None:
                return None
            try:
                orders = page["orders"]
                rows += [(r["account_id"], r["order_id"]) for r in orders]
                cursor = page["next_after_seq"]
                last = orders[-1]["seq"] if orders else None
            except (KeyError, TypeError, IndexError) as exc:
                raise VenueUnavailable(f"{self.client.base_url}/live-orders: unexpected answer") from exc
            if cursor is None:
                return rows
            if len(orders) < LIVE_PAGE or cursor != last or not isinstance(cursor, int) \
                    or cursor <= after:
                raise VenueUnavailable(f"{self.client.base_url}/live-orders: cursor {cursor!r} "
                                       f"after {after} on a page of {len(orders)}")
            after = cursor
        raise VenueUnavailable(f"{self.client.base_url}/live-orders: more than {MAX_LIVE_PAGES} pages")

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

    async def live_order_ids(self, account_ids: set[str]) -> dict[str, set[str] | None]:
        """One read per account: live accounts are few, and execution has no read across them."""
        return await self.each_account(account_ids, self._live_ids)

    async def _live_ids(self, account_id: str) -> set[str] | None:
        rows = await self.get(f"/accounts/{account_id}/orders") or []
        return {o.order_id for o in map(self._order, rows) if o.live}

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

    async def live_order_ids(self, venue: TradingMode, account_ids: set[str]
                             ) -> dict[str, set[str] | None]:
        return await self.readers[venue].live_order_ids(account_ids)

    async def close(self) -> None:
        for reader in self.readers.values():
            await reader.close()
