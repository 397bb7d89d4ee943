"""Each service's statements to Postgres, counted (``BENCH_E2E_ROUNDTRIPS=1 make bench
ARGS=e2e``, printed per signal for the 50/s phase).

A service gets a ``sitecustomize`` that wraps asyncpg's ``Connection``: every simple query
(``execute`` without arguments: the kit's ``BEGIN; INSERT INTO inbox …`` and ``INSERT INTO
outbox …; COMMIT``) and every extended one (``_execute``: ``fetch``, ``fetchrow``, ``execute``
with arguments, SQLAlchemy's statements) is one round trip, counted under its first words. A
thread writes the running counts with a ``time.perf_counter`` stamp twice a second (one clock
for every process of the host), so the benchmark can take the difference over a phase. The
wrapper costs a little: quote latency figures of a run without it."""

from __future__ import annotations

import json
from pathlib import Path

SITECUSTOMIZE = """
import os, sys
sys.path.insert(0, {root!r})
from bench.roundtrips import install
install(os.environ["BENCH_ROUNDTRIPS"])
"""
WORDS = 6
"""A statement is counted under its first words, which tell the kind and the table."""


def site_dir(root: Path, where: Path) -> Path:
    """A directory to put first on the service's ``PYTHONPATH``."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "sitecustomize.py").write_text(SITECUSTOMIZE.format(root=str(root)))
    return where


def statement_key(query: str) -> str:
    return " ".join(query.split()[:WORDS])


def install(out: str) -> None:
    """In the service process: count every statement; append the counts to ``out`` as a JSON
    line (``{"at": perf_counter, "counts": {statement: n}}``) every half second."""
    import threading
    import time
    from collections import Counter

    import asyncpg.connection

    counts: Counter[str] = Counter()
    connection = asyncpg.connection.Connection
    simple, extended = connection.execute, connection._execute

    async def execute(self, query, *args, timeout=None):  # type: ignore[no-untyped-def]
        if not args:  # with arguments it goes through ``_execute``, counted there
            counts[statement_key(query)] += 1
        return await simple(self, query, *args, timeout=timeout)

    async def _execute(self, query, args, limit, timeout, **kwargs):  # type: ignore[no-untyped-def]
        counts[statement_key(query)] += 1
        return await extended(self, query, args, limit, timeout, **kwargs)

    connection.execute = execute  # type: ignore[method-assign]
    connection._execute = _execute  # type: ignore[method-assign]

    def write() -> None:
        while True:
            time.sleep(0.5)
            line = json.dumps({"at": time.perf_counter(), "counts": dict(counts)})
            with open(out, "a") as f:
                f.write(line + "\n")

    threading.Thread(target=write, daemon=True, name="bench-roundtrips").start()


def _counts_at(path: Path, at: float) -> dict[str, int]:
    """The last counts written at or before ``at`` (none: all zero)."""
    latest: dict[str, int] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["at"] > at:
            break
        latest = record["counts"]
    return latest


def per_signal(paths: dict[str, Path], began: float, ended: float, signals: int,
               top: int = 6) -> list[str]:
    """Statements per signal between ``began`` and ``ended``, per service: the total, then the
    most frequent ``top``."""
    lines = [f"--- statements to Postgres per signal (round trips), {signals} signals ---"]
    for service, path in paths.items():
        if not path.exists():
            lines.append(f"  {service}: nothing written")
            continue
        before, after = _counts_at(path, began), _counts_at(path, ended)
        made = {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}
        total = sum(made.values()) / signals
        lines.append(f"  {service}: {total:.2f}")
        for key, n in sorted(made.items(), key=lambda kv: -kv[1])[:top]:
            lines.append(f"    {n / signals:5.2f}  {key}")
    return lines
