"""Where the market is when position starts: the event time of the newest tick or candle on the
bus. Position's own consumers may be minutes behind after downtime (ticks resume at the newest,
candles catch up in order), while its consumer of gate decisions acts at once; an approval is
judged against this time, not against the last candle position happened to process."""

from __future__ import annotations

import asyncio
from datetime import datetime

from nats.errors import Error as NatsError
from robson_contracts import Candle, DecodeError, TradeTick, decode
from robson_contracts import subjects as s
from robson_kit import logs
from robson_kit.bus import Bus

log = logs.get_logger(__name__)

LOOKUP_TIMEOUT = 5.0


async def newest_market_time(bus: Bus) -> datetime | None:
    """None when the bus holds no market data (or cannot say: the clock then starts from the
    first market event, as before)."""
    times: list[datetime] = []
    for subject in (s.ALL_TICKS, s.ALL_CANDLES):
        try:
            raw = await asyncio.wait_for(bus.js.get_last_msg(s.MARKET.name, subject), LOOKUP_TIMEOUT)
            message = decode(raw.data or b"", (TradeTick, Candle))
        except (NatsError, DecodeError, TimeoutError) as exc:  # NotFoundError: nothing yet
            log.debug("position.market_time_unknown", subject=subject, error=type(exc).__name__)
            continue
        times.append(message.occurred_at)
    return max(times, default=None)
