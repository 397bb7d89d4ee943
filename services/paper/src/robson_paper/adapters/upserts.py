"""The four upserts a flush writes, each in two forms built from one description:

- with parameters, one ``unnest`` statement per table for any number of rows (asyncpg prepares
  it once per connection), the tables' statements joined into one (``combined``);
- with the values written as literals (``literal``), to travel in the COMMIT's round trip
  (``robson_kit.rawtx.send_with_commit``): nothing reads a flush's answer.

Both write the same rows with the same conflict rule; ``tests/test_store_statements.py`` holds
them to the same table contents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from robson_kit.rawtx import typed_row

Row = tuple[object, ...]


@dataclass(frozen=True)
class Upsert:
    table: str
    columns: tuple[tuple[str, str], ...]
    """(name, SQL type) in the order of the rows' values."""
    conflict: str

    @property
    def names(self) -> str:
        return ", ".join(name for name, _ in self.columns)

    @cached_property
    def parameterized(self) -> str:
        """The rows as parameters, one array per column."""
        arrays = ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(self.columns, 1))
        return f"INSERT INTO {self.table} ({self.names}) SELECT * FROM unnest({arrays}) {self.conflict}"

    @cached_property
    def types(self) -> tuple[str, ...]:
        return tuple(kind for _, kind in self.columns)

    def literal(self, rows: list[Row]) -> str:
        """The rows as one ``INSERT … VALUES``; ``NotLiteral`` for a value that cannot be one."""
        values = ", ".join(typed_row(row, self.types) for row in rows)
        return f"INSERT INTO {self.table} ({self.names}) VALUES {values} {self.conflict}"


ORDERS = Upsert("orders", (
    ("account_id", "varchar"), ("order_id", "varchar"), ("symbol", "varchar"),
    ("status", "varchar"), ("live", "boolean"), ("list_id", "varchar"), ("position_id", "varchar"),
    ("seq", "bigint"), ("updated_at", "timestamptz"), ("data", "jsonb")),
    "ON CONFLICT (account_id, order_id) DO UPDATE SET status = excluded.status, "
    "live = excluded.live, list_id = excluded.list_id, position_id = excluded.position_id, "
    "updated_at = excluded.updated_at, data = excluded.data")
ACCOUNTS = Upsert("accounts", (
    ("account_id", "varchar"), ("tenant_id", "varchar"), ("data", "jsonb")),
    "ON CONFLICT (account_id) DO UPDATE SET data = excluded.data")
MARKETS = Upsert("market_state", (
    ("symbol", "varchar"), ("last_price", "numeric"), ("last_time", "timestamptz"),
    ("recent_range", "numeric")),
    "ON CONFLICT (symbol) DO UPDATE SET last_price = excluded.last_price, "
    "last_time = excluded.last_time, recent_range = excluded.recent_range")
FILLS = Upsert("fills", (
    ("fill_id", "varchar"), ("account_id", "varchar"), ("order_id", "varchar"),
    ("symbol", "varchar"), ("side", "varchar"), ("price", "numeric"), ("quantity", "numeric"),
    ("fee", "numeric"), ("fee_asset", "varchar"), ("liquidity", "varchar"),
    ("filled_at", "timestamptz"), ("fill_no", "integer")),
    "ON CONFLICT DO NOTHING")


def literal(due: list[tuple[Upsert, list[Row]]]) -> str:
    """Every table's rows as literal statements, in one string (a simple query runs them in
    order); ``NotLiteral`` if any value cannot be written so."""
    return "; ".join(upsert.literal(rows) for upsert, rows in due)


_PARAMETER = re.compile(r"\$(\d+)")


@lru_cache(maxsize=16)
def combined(statements: tuple[str, ...]) -> str:
    """``statements`` as one: all but the last as data-modifying CTEs, their parameters numbered
    on from the previous one's. One round trip instead of one per table (a filled order writes
    orders, accounts, prices and fills); the tables are distinct, so no row is touched twice."""
    parts, offset = [], 0
    for statement in statements:
        parts.append(_PARAMETER.sub(lambda m, at=offset: f"${int(m.group(1)) + at}", statement))
        offset += max(int(n) for n in _PARAMETER.findall(statement))
    *first, last = parts
    if not first:
        return last
    return "WITH " + ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(first)) + " " + last
