"""paper's writes before a commit go out as one statement: every table's upsert, parameters
numbered on in order."""

from __future__ import annotations

import re

from robson_paper.adapters.upserts import ACCOUNTS, FILLS, MARKETS, ORDERS, combined

TABLES = tuple(u.parameterized for u in (ORDERS, ACCOUNTS, MARKETS, FILLS))


def _numbers(statement: str) -> list[int]:
    return [int(n) for n in re.findall(r"\$(\d+)", statement)]


def test_flush_of_every_table_is_one_statement_with_parameters_numbered_in_order() -> None:
    statement = combined(TABLES)
    total = sum(max(_numbers(s)) for s in TABLES)
    assert _numbers(statement) == list(range(1, total + 1))
    assert statement.startswith("WITH w0 AS (INSERT INTO orders")
    assert statement.rsplit(") INSERT INTO ", 1)[1].startswith("fills ")  # the main statement
    for table in ("orders", "accounts", "market_state", "fills"):
        assert statement.count(f"INSERT INTO {table} ") == 1


def test_flush_of_one_table_is_its_own_statement() -> None:
    for statement in TABLES:
        assert combined((statement,)) == statement
