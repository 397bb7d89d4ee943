"""`make bench`: run every bench/bench_*.py, print a table, write bench/results.json.

Each module exposes ``run() -> list[Metric]`` (sync or async). ``make bench ARGS=paper`` runs
only the modules whose name contains "paper".
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import Metric

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"


def main(argv: list[str]) -> int:
    console = Console()
    selected = [a for a in argv if not a.startswith("-")]
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    modules = [m for m in modules if not selected or any(s in m for s in selected)]
    results: dict[str, dict[str, object]] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    table = Table(title="Robson benchmarks (this machine; medians unless stated)")
    for col in ("metric", "value", "unit", "target", "met", "note"):
        table.add_column(col)
    failed = False
    for name in modules:
        console.print(f"[bold]running {name}…[/bold]")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            out = module.run()
            metrics: list[Metric] = asyncio.run(out) if inspect.iscoroutine(out) else out
        except Exception:
            console.print(f"[red]{name} failed[/red]\n{traceback.format_exc()}")
            failed = True
            continue
        console.print(f"  {name} took {time.perf_counter() - started:.1f}s")
        for m in metrics:
            results[m.name] = {k: v for k, v in m.as_json().items() if k != "name"}
            met = "-" if m.met is None else ("[green]yes[/green]" if m.met else "[red]no[/red]")
            table.add_row(m.name, f"{m.value:,.3f}", m.unit, m.target, met, m.note)
    console.print(table)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
