"""What the services ask of Postgres during a benchmark phase: transactions, rows written per
table, WAL flushes, from Postgres's own statistics (``pg_stat_database``, ``pg_stat_user_tables``,
``pg_stat_wal``), so Postgres's share of the CPU can be traced to the tables that cost it.

Statistics reach these views when a backend reports them (at most a second late), so a
snapshot waits that long after the phase."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

STATS_DELAY_SECONDS = 1.2

TABLES = """SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd,
                   seq_scan, seq_tup_read, coalesce(idx_tup_fetch, 0)
            FROM pg_stat_user_tables"""
DATABASE = """SELECT xact_commit, xact_rollback, tup_returned, tup_fetched
              FROM pg_stat_database WHERE datname = current_database()"""
WAL = "SELECT wal_records, wal_bytes, wal_sync, wal_fpi FROM pg_stat_wal"


@dataclass(frozen=True)
class PgSnapshot:
    commits: int
    rollbacks: int
    rows_read: int
    wal_records: int
    wal_bytes: int
    wal_syncs: int
    wal_full_pages: int
    tables: dict[str, tuple[int, ...]]
    """Per table: rows inserted, updated, deleted, updated in place (HOT); sequential scans,
    rows they read, rows fetched through an index."""


async def snapshot(database_url: str) -> PgSnapshot:
    await asyncio.sleep(STATS_DELAY_SECONDS)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():  # one commit of ours between two snapshots
            db = await conn.fetchrow(DATABASE)
            wal = await conn.fetchrow(WAL)
            rows = await conn.fetch(TABLES)
    finally:
        await conn.close()
    return PgSnapshot(db[0], db[1], db[2] + db[3], wal[0], int(wal[1]), wal[2], wal[3],
                      {r[0]: tuple(r[1:]) for r in rows})


def describe(before: PgSnapshot, after: PgSnapshot, per: int, top: int = 8) -> str:
    """The difference, per ``per`` (signals), with the tables written most."""
    changed = {
        name: tuple(a - b for a, b in zip(now, before.tables.get(name, (0,) * len(now)),
                                          strict=True))
        for name, now in after.tables.items()}
    busiest = sorted(changed.items(), key=lambda kv: -sum(kv[1][:3]))[:top]
    tables = ", ".join(f"{name} +{c[0] / per:.1f}/~{c[1] / per:.1f}/-{c[2] / per:.1f}"
                       for name, c in busiest if any(c[:3]))
    scanned = sorted(changed.items(), key=lambda kv: -(kv[1][5] + kv[1][6]))[:top]
    reads = ", ".join(f"{name} {c[4] / per:.2f} scans reading {c[5] / per:.0f}, "
                      f"{c[6] / per:.0f} by index" for name, c in scanned if c[5] or c[6])
    # the first snapshot's own transaction commits after it read the count
    commits = (after.commits - before.commits - 1) / per
    return (f"{commits:.1f} commits, {(after.rollbacks - before.rollbacks) / per:.2f} rollbacks, "
            f"{(after.wal_syncs - before.wal_syncs) / per:.1f} WAL syncs, "
            f"{(after.wal_records - before.wal_records) / per:.0f} WAL records "
            f"({(after.wal_bytes - before.wal_bytes) / per / 1024:.1f} KiB, "
            f"{(after.wal_full_pages - before.wal_full_pages) / per:.1f} full pages), "
            f"{(after.rows_read - before.rows_read) / per:.0f} rows read per signal; rows "
            f"inserted/updated/deleted per signal: {tables}; rows read per signal: {reads}")
