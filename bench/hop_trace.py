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
    """In the service process: record every handled batch's steps, appended to ``out`` as JSON
    lines every 20 batches and at exit."""
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
            if len(records) >= 20:
                _append(out, records)

    Consumer.process = traced  # type: ignore[method-assign]
    atexit.register(_append, out, records)


def _append(out: str, records: list[dict[str, object]]) -> None:
    with open(out, "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    records.clear()


def _read(out: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.read_text().splitlines() if line]


INSIDE = {
    "decode": lambda r: r["transaction"][0][0] - r["began"],
    "session": lambda r: r["begin"][0][0] - r["transaction"][0][0],
    "begin+inbox": lambda r: r["begin"][0][1] - r["begin"][0][0],
    "handler": lambda r: r["commit"][0][0] - r["begin"][0][1],
    "outbox+commit": lambda r: r["commit"][0][1] - r["commit"][0][0],
    "after": lambda r: _until_publish(r) - r["commit"][0][1],
    "publish": lambda r: r["publish"][0][1] - r["publish"][0][0] if "publish" in r else None,
    "batch": lambda r: r["ended"] - r["began"],
}
"""The steps of a batch one service handled, from when its consumer had the batch: decoding,
the session until ``BEGIN``, ``BEGIN`` + inbox, the handlers (their deferred writes
included), outbox + ``COMMIT``, from the ``COMMIT`` to the publish (the in-memory effects;
the session's close too when the events went out after it, see ``robson_kit.batch``), the
publish until ``PubAck``; and the whole batch."""


def _until_publish(r: dict) -> float:  # type: ignore[type-arg]
    """When the batch's events began to go out, or its transaction ended if it sent none."""
    ended = r["transaction"][0][1]
    return min(ended, r["publish"][0][0]) if "publish" in r else ended


def summary(out: Path, sent: dict[str, float]) -> list[str]:
    """Median of each step of the one-message batches whose message the benchmark sent at
    ``sent[message_id]``, in ms."""
    records = [r for r in _read(out)
               if len(r["ids"]) == 1 and r["ids"][0] in sent and all(k in r for k in STEPPED)]
    if not records:
        return ["hop trace: no batch of one message recorded"]

    spans = {
        "published → batch handed to the consumer": lambda r: r["began"] - sent[r["ids"][0]],
        "→ transaction (decode, wants)": INSIDE["decode"],
        "session until BEGIN": INSIDE["session"],
        "BEGIN + inbox": INSIDE["begin+inbox"],
        "handler": INSIDE["handler"],
        "outbox + COMMIT": INSIDE["outbox+commit"],
        "COMMIT → publish (after-commit effects)": INSIDE["after"],
        "→ publish": lambda r: max(0.0, r["publish"][0][0] - r["transaction"][0][1]),
        "publish until PubAck": INSIDE["publish"],
        "acks": lambda r: r["settle"][-1][1] - r["settle"][0][0],
        "published → batch done": lambda r: r["ended"] - sent[r["ids"][0]],
    }
    lines = [f"--- one hop, from inside the service: medians of {len(records)} single-message "
             "batches (ms) ---"]
    for label, span in spans.items():
        lines.append(f"  {label:45s} {statistics.median(span(r) * 1000 for r in records):6.2f}")
    return lines


def by_consumer(traces: dict[str, Path], began: float, ended: float) -> list[str]:
    """Medians of ``INSIDE``'s steps (ms) per service and consumer, over the batches that went
    through a transaction and began between ``began`` and ``ended`` (``perf_counter``)."""
    lines = ["--- each consumer's batches, from inside its service: medians (ms) ---",
             f"  {'consumer':32s} {'n':>4s} {'msgs':>4s} "
             + " ".join(f"{k:>13s}" for k in INSIDE)]
    for service, path in traces.items():
        if not path.exists():
            lines.append(f"  {service}: no trace written")
            continue
        grouped: dict[str, list[dict]] = {}  # type: ignore[type-arg]
        for r in _read(path):
            if began <= r["began"] <= ended and all(k in r for k in ("transaction", "begin", "commit")):
                grouped.setdefault(r["consumer"], []).append(r)
        for consumer, records in sorted(grouped.items()):
            cells = []
            for span in INSIDE.values():
                values = [v for v in map(span, records) if v is not None]
                cells.append(f"{statistics.median(values) * 1000:13.2f}" if values else f"{'-':>13s}")
            sizes = statistics.median(len(r["ids"]) for r in records)
            lines.append(f"  {service + '/' + consumer:32s} {len(records):4d} {sizes:4g} "
                         + " ".join(cells))
    return lines
