"""One hop of the lean reference chain (a benchmark fixture, not product code).

What every Robson hop must do for exactly-once effects, and nothing else: a durable JetStream
pull consumer; per fetched batch one asyncpg transaction with, per message, an inbox insert, a
state update and an outbox insert (fsync on); after commit a publish with ``Nats-Msg-Id`` per
message, all at once as Robson's relay publishes a batch's events (published one after
another, each waiting for its ``PubAck``, a burst of the chain drained at ~320 msg/s instead of
~500), then the acks; published outbox rows are marked once a second. No ORM, no pydantic.

``python -m bench.lean_hop INDEX HOPS NATS_URL DATABASE_URL``
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid

import asyncpg
import nats
from nats.js.api import AckPolicy, ConsumerConfig

STREAM = "LEAN"
SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.inbox (message_id text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS {s}.state (key text PRIMARY KEY, n bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.outbox (id bigserial PRIMARY KEY, message_id text NOT NULL,
    subject text NOT NULL, payload bytea NOT NULL, published_at timestamptz);
"""


def subject(index: int) -> str:
    return f"lean.h{index}"


async def main(index: int, hops: int, nats_url: str, database_url: str) -> None:
    schema = f"lean_{index}"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        await conn.execute(SCHEMA_DDL.format(s=schema))
    nc = await nats.connect(nats_url, name=f"lean-hop-{index}")
    js = nc.jetstream()
    durable = f"hop{index}"
    await js.add_consumer(STREAM, ConsumerConfig(
        durable_name=durable, ack_policy=AckPolicy.EXPLICIT, filter_subject=subject(index),
        max_ack_pending=1000))
    sub = await js.pull_subscribe_bind(durable, stream=STREAM)
    out_subject = subject(index + 1)
    to_mark: list[int] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    inbox_sql = f"INSERT INTO {schema}.inbox (message_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1"
    state_sql = (f"INSERT INTO {schema}.state (key, n) VALUES ($1, 1) "
                 f"ON CONFLICT (key) DO UPDATE SET n = {schema}.state.n + 1")
    outbox_sql = (f"INSERT INTO {schema}.outbox (message_id, subject, payload) "
                  "VALUES ($1, $2, $3) RETURNING id")
    mark_sql = f"UPDATE {schema}.outbox SET published_at = now() WHERE id = ANY($1::bigint[])"

    async def mark_published() -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            if to_mark:
                ids = to_mark[:]
                del to_mark[:len(ids)]
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute("SET LOCAL synchronous_commit TO OFF")
                    await conn.execute(mark_sql, ids)

    marker = asyncio.create_task(mark_published())
    while not stop.is_set():
        try:
            msgs = await sub.fetch(64, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        outgoing: list[tuple[str, bytes]] = []
        async with pool.acquire() as conn, conn.transaction():
            for msg in msgs:
                doc = json.loads(msg.data)
                if await conn.fetchval(inbox_sql, doc["id"]) is None:
                    continue
                await conn.execute(state_sql, doc["key"])
                doc["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{doc['id']}/{index}"))
                payload = json.dumps(doc).encode()
                row_id = await conn.fetchval(outbox_sql, doc["id"], out_subject, payload)
                outgoing.append((doc["id"], payload))
                to_mark.append(row_id)
        await asyncio.gather(*(js.publish(out_subject, payload, headers={"Nats-Msg-Id": message_id})
                               for message_id, payload in outgoing))
        for msg in msgs:
            await msg.ack()
    marker.cancel()
    await nc.close()
    await pool.close()


if __name__ == "__main__":
    index_, hops_, nats_url_, database_url_ = sys.argv[1:5]
    if os.environ.get("BENCH_LEAN_UVLOOP") == "1":
        import uvloop

        uvloop.install()
    asyncio.run(main(int(index_), int(hops_), nats_url_, database_url_))
