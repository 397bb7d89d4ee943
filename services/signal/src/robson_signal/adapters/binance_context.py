"""Futures market context (funding, mark/index price, open interest), polled on a schedule,
published as MarketContext and stored as one row per symbol/metric/time."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from robson_contracts import FeedSource, MarketContext, derive_id
from robson_kit.logs import get_logger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from robson_signal.adapters import repository as repo
from robson_signal.adapters.binance_client import make_client
from robson_signal.adapters.pipeline import Pipeline
from robson_signal.domain.bars import ms_to_dt
from robson_signal.domain.feedstatus import FeedStatus
from robson_signal.settings import SignalSettings

log = get_logger(__name__)


async def fetch_context(client: Any, symbol: str,
                        perpetual: str | None = None) -> tuple[MarketContext, list[dict[str, Any]]]:
    """``symbol``'s context read from ``perpetual`` (its USD-M perpetual; default: the same
    name) and published under ``symbol``, the name the gate judges entries by."""
    source = perpetual or symbol
    premium = await client.futures_mark_price(symbol=source)
    interest = await client.futures_open_interest(symbol=source)
    funding = await client.futures_funding_rate(symbol=source, limit=1)
    at = ms_to_dt(int(premium["time"]))
    message_id = derive_id("market-context", symbol, premium["time"])
    message = MarketContext(
        message_id=message_id,
        correlation_id=message_id,
        occurred_at=at,
        symbol=symbol,
        funding_rate=Decimal(premium["lastFundingRate"]),
        next_funding_time=ms_to_dt(int(premium["nextFundingTime"])),
        mark_price=Decimal(premium["markPrice"]),
        index_price=Decimal(premium["indexPrice"]),
        open_interest=Decimal(interest["openInterest"]),
        source=FeedSource.BINANCE,
    )
    rows = [
        _row(symbol, "mark_price", at, premium["markPrice"]),
        _row(symbol, "index_price", at, premium["indexPrice"]),
        _row(symbol, "predicted_funding_rate", at, premium["lastFundingRate"]),
        _row(symbol, "open_interest", ms_to_dt(int(interest["time"])), interest["openInterest"]),
    ]
    rows += [
        _row(symbol, "funding_rate", ms_to_dt(int(f["fundingTime"])), f["fundingRate"])
        for f in funding
    ]
    return message, rows


def _row(symbol: str, metric: str, at: Any, value: str) -> dict[str, Any]:
    return {"symbol": symbol, "metric": metric, "at": at, "value": Decimal(value)}


class ContextPoller:
    def __init__(
        self,
        settings: SignalSettings,
        pipeline: Pipeline,
        sessions: async_sessionmaker[AsyncSession],
        status: FeedStatus,
    ) -> None:
        self.settings, self.pipeline, self.sessions, self.status = (
            settings,
            pipeline,
            sessions,
            status,
        )

    async def poll_once(self, client: Any) -> int:
        """Publish and store one round for every symbol; returns new rows stored."""
        stored = 0
        for symbol, perpetual in self.settings.context_map.items():
            message, rows = await fetch_context(client, symbol, perpetual)
            await self.pipeline.publish([message])
            async with self.sessions() as session, session.begin():
                stored += await repo.store_context(session, rows)
        return stored

    async def run(self) -> None:
        client = make_client(self.settings.binance_api_url, self.settings.binance_futures_url)
        try:
            while True:
                try:
                    stored = await self.poll_once(client)
                    self.status.context = {"state": "ok", "new_rows": stored, "error": None}
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    self.status.context = {"state": "unreachable", "error": error}
                    log.warning("context.poll_failed", error=error)
                await asyncio.sleep(self.settings.context_poll_seconds)
        finally:
            await client.close_connection()
