"""One consumer hop's timeline, seen from inside the service (``BENCH_BUS_TRACE=1 make bench
ARGS=bus``, printed after the 20 msgs/s phase).

The sample service gets a ``sitecustomize`` that wraps the kit's steps of a fetched batch —
the batch transaction, its ``BEGIN`` + inbox and outbox + ``COMMIT`` round trips, the publish
of its events, the acks — and writes when each began and ended. The times are
``time.perf_counter`` (``CLOCK_MONOTONIC``: one clock for every process of the host), so they
line up with the benchmark's own publish times. The wrappers add their own small cost to each
step: the figures are for finding where a hop's milliseconds go, not for quoting as its
latency."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

SITECUSTOMIZE = """
import os, sys
sys.path.insert(0, {root!r})
from bench.hop_trace import install
install(os.environ["BENCH_HOP_TRACE"])
"""

STEPS = (
    ("robson_kit.batch", "BatchTransaction", "_transaction", "transaction"),
    ("robson_kit.uow", None, "begin_with_inbox", "begin"),
    ("robson_kit.uow", None, "commit_with_outbox", "commit"),
    ("robson_kit.outbox", "OutboxRelay", "publish_committed", "publish"),
    ("robson_kit.consumer", "Consumer", "_settle", "settle"),
)
STEPPED = tuple(key for *_, key in STEPS)
"""A batch with all of them went the whole way (a commit, a publish, its acks)."""


def site_dir(root: Path, where: Path) -> Path:
    """A directory to put first on the service's ``PYTHONPATH``."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "sitecustomize.py").write_text(SITECUSTOMIZE.format(root=str(root)))
    return where


def install(out: str) -> None:
    """In the service process: record every handled batch's steps, written to ``out`` as JSON
    every 20 batches and at exit."""
    import asyncio
    import atexit
    import importlib
    import time

    records: list[dict[str, object]] = []
    current: dict[object, dict[str, object]] = {}

    def wrap(owner: object, name: str, key: str) -> None:
        original = getattr(owner, name)

        async def timed(*args: object, **kwargs: object) -> object:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                record = current.get(asyncio.current_task())
                if record is not None:
                    record.setdefault(key, []).append((began, time.perf_counter()))  # type: ignore[union-attr]

        setattr(owner, name, timed)

    for module, cls, name, key in STEPS:
        mod = importlib.import_module(module)
        wrap(getattr(mod, cls) if cls else mod, name, key)

    from robson_kit.consumer import Consumer

    process = Consumer.process

    async def traced(self: Consumer, msgs: list) -> None:  # type: ignore[type-arg]
        task = asyncio.current_task()
        record: dict[str, object] = {
            "began": time.perf_counter(), "consumer": self.spec.name,
            "ids": [(m.headers or {}).get("Nats-Msg-Id") for m in msgs]}
        current[task] = record
        try:
            await process(self, msgs)
        finally:
            current.pop(task, None)
            record["ended"] = time.perf_counter()
            records.append(record)
            if len(records) % 20 == 0:
                _write(out, records)

    Consumer.process = traced  # type: ignore[method-assign]
    atexit.register(_write, out, records)


def _write(out: str, records: list[dict[str, object]]) -> None:
    Path(out).write_text(json.dumps(records))


def summary(out: Path, sent: dict[str, float]) -> list[str]:
    """Median of each step of the one-message batches whose message the benchmark sent at
    ``sent[message_id]``, in ms."""
    records = [r for r in json.loads(out.read_text())
               if len(r["ids"]) == 1 and r["ids"][0] in sent and all(k in r for k in STEPPED)]
    if not records:
        return ["hop trace: no batch of one message recorded"]

    def step(r: dict, key: str, end: int = 1) -> float:  # type: ignore[type-arg]
        return r[key][0][end]

    spans = {
        "published → batch handed to the consumer": lambda r: r["began"] - sent[r["ids"][0]],
        "→ transaction (decode, wants)": lambda r: step(r, "transaction", 0) - r["began"],
        "session until BEGIN": lambda r: step(r, "begin", 0) - step(r, "transaction", 0),
        "BEGIN + inbox": lambda r: step(r, "begin") - step(r, "begin", 0),
        "handler": lambda r: step(r, "commit", 0) - step(r, "begin"),
        "outbox + COMMIT": lambda r: step(r, "commit") - step(r, "commit", 0),
        "after COMMIT (after-commit, session close)":
            lambda r: step(r, "transaction") - step(r, "commit"),
        "→ publish": lambda r: step(r, "publish", 0) - step(r, "transaction"),
        "publish until PubAck": lambda r: step(r, "publish") - step(r, "publish", 0),
        "acks": lambda r: r["settle"][-1][1] - r["settle"][0][0],
        "published → batch done": lambda r: r["ended"] - sent[r["ids"][0]],
    }
    lines = [f"--- one hop, from inside the service: medians of {len(records)} single-message "
             "batches (ms) ---"]
    for label, span in spans.items():
        lines.append(f"  {label:45s} {statistics.median(span(r) * 1000 for r in records):6.2f}")
    return lines
