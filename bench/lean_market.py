"""One lean market consumer: the floor of the market background (a benchmark fixture, not
product code).

What a service that follows prices must do at the least, and nothing else: a durable JetStream
pull consumer on the ticks with explicit acks, as every Robson consumer, fetched through the
kit's ``PullFeed`` paced every ``PACE_SECONDS`` as Robson's tick consumers are (the cheapest
transport measured here: nats-py's ``fetch`` every 0.1 s cost the consumers about five times as
much, push delivery three times); each tick decoded with ``json.loads`` into a last-price table
in memory; the prices that moved written with one asyncpg statement at most once a second
(Robson's bounded price persistence); then the batch's acks. No ORM, no pydantic,
no inbox (market data is idempotent: a price only moves forward in event time).

``python -m bench.lean_market INDEX NATS_URL DATABASE_URL``
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import datetime
from decimal import Decimal

import asyncpg
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from robson_contracts import subjects
from robson_kit.pull import PullFeed

PACE_SECONDS = 0.1
WRITE_SECONDS = 1.0
DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.prices (symbol text PRIMARY KEY, price numeric NOT NULL,
    at timestamptz NOT NULL);
"""


async def main(index: int, nats_url: str, database_url: str) -> None:
    schema = f"lean_market_{index}"
    db = await asyncpg.connect(database_url)
    await db.execute(DDL.format(s=schema))
    upsert = (f"INSERT INTO {schema}.prices (symbol, price, at) "
              "SELECT * FROM unnest($1::text[], $2::numeric[], $3::timestamptz[]) "
              "ON CONFLICT (symbol) DO UPDATE SET price = EXCLUDED.price, at = EXCLUDED.at")
    nc = await nats.connect(nats_url, name=f"lean-market-{index}")
    js = nc.jetstream()
    durable = f"lean_market_{index}"
    await js.add_consumer(subjects.MARKET.name, ConsumerConfig(
        durable_name=durable, ack_policy=AckPolicy.EXPLICIT, filter_subject=subjects.ALL_TICKS,
        deliver_policy=DeliverPolicy.NEW, max_ack_pending=1000))  # the live edge, as a service
    feed = PullFeed(await js.pull_subscribe_bind(durable, stream=subjects.MARKET.name),
                    batch=500, pace=PACE_SECONDS)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    prices: dict[str, tuple[str, str]] = {}
    moved: set[str] = set()
    written_at = time.monotonic()
    while not stop.is_set():
        try:
            msgs = await feed.next(timeout=1.0)
        except TimeoutError:
            continue
        for msg in msgs:
            tick = json.loads(msg.data)
            prices[tick["symbol"]] = (tick["price"], tick["occurred_at"])
            moved.add(tick["symbol"])
        if moved and time.monotonic() - written_at >= WRITE_SECONDS:
            rows = [(s, *prices[s]) for s in sorted(moved)]
            await db.execute(upsert, [r[0] for r in rows], [Decimal(r[1]) for r in rows],
                             [_timestamp(r[2]) for r in rows])
            moved.clear()
            written_at = time.monotonic()
        for msg in msgs:
            await msg.ack()
    await nc.close()
    await db.close()


def _timestamp(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


if __name__ == "__main__":
    index_, nats_url_, database_url_ = sys.argv[1:4]
    asyncio.run(main(int(index_), nats_url_, database_url_))
