"""Prints the interpreter `make setup` builds a new .venv on: of the CPython 3.11 and 3.12
builds uv finds (3.13: pgserver ships no wheel for it), the fastest at a short pure-Python
probe. Builds of one version differ a lot: a pyenv build (shared libpython, no profile-guided
optimisation) ran the platform's code in ~1.25x the time of Debian's python3.11 on the same
machine. The containers use python:3.11-slim, an optimised build, and so should the venv.

Prints nothing when `.venv` exists (uv keeps it: delete it, or `make clean`, to pick again)
or when nothing qualifies (uv then chooses as it always does). `PYTHON_FOR_VENV=/path/to/python
make setup` skips the probe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ("3.11.", "3.12.")
ROUNDS = 3
PROBE = """
import os, sys, time
from decimal import Decimal
class Point:
    __slots__ = ("at", "price")
    def __init__(self, at, price):
        self.at = at
        self.price = price
def work():
    book = {}
    for i in range(80_000):
        p = Point(i, Decimal(i % 97))
        book[i % 500] = p
        if p.price > 50:
            book.pop(i % 500, None)
    return sum((p.price for p in book.values()), Decimal(0))
times = []
for _ in range(5):
    started = time.perf_counter()
    work()
    times.append(time.perf_counter() - started)
print(os.path.realpath(sys.executable), min(times))
"""


def candidates(uv: list[str]) -> list[str]:
    try:
        listed = subprocess.run([*uv, "python", "list", "--only-installed", "--output-format",
                                 "json"], capture_output=True, text=True, timeout=60, check=True)
        found = json.loads(listed.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        print(f"pick_python: `uv python list` failed ({exc}): uv chooses the interpreter",
              file=sys.stderr)
        return []
    usable = [f["path"] for f in found
              if f.get("implementation") == "cpython" and str(f.get("version", "")).startswith(VERSIONS)
              and not str(f.get("version", "")).endswith("t")]  # free-threaded builds: no wheels
    return list(dict.fromkeys(os.path.realpath(p) for p in usable))  # uv lists symlinks too


def probe(paths: list[str]) -> dict[str, float]:
    """Each build's best time, the candidates taken in turn for each round (a drifting host
    slows them alike); paths reaching the same executable are one build."""
    best: dict[str, float] = {}
    for _ in range(ROUNDS):
        for path in paths:
            try:
                executable, seconds = subprocess.run(
                    [path, "-I", "-c", PROBE], capture_output=True, text=True, timeout=30,
                    check=True).stdout.split()
                best[executable] = min(float(seconds), best.get(executable, float("inf")))
            except (OSError, subprocess.SubprocessError, ValueError):
                continue  # not a working interpreter: not a candidate
    return best


def choose(root: Path, env: dict[str, str]) -> str:
    """The interpreter for a new venv under ``root``, or "" to leave it to uv."""
    if (root / ".venv" / "pyvenv.cfg").exists():
        return ""
    if env.get("PYTHON_FOR_VENV"):
        return env["PYTHON_FOR_VENV"]
    paths = candidates(env.get("UV", "uv").split())
    timed = probe(paths)
    if paths and not timed:
        print(f"pick_python: none of {paths} answered the probe: uv chooses the interpreter",
              file=sys.stderr)
    return min(timed, key=timed.__getitem__) if timed else ""


if __name__ == "__main__":
    print(choose(ROOT, dict(os.environ)))
