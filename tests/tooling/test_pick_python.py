"""`make setup`'s choice of interpreter for a new .venv (tools/pick_python.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pick() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pick_python", ROOT / "tools" / "pick_python.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def _build(tmp: Path, name: str, seconds: float, executable: str | None = None) -> str:
    """A stand-in interpreter: answers the probe with its executable and its best time."""
    return _script(tmp / name, f"echo {executable or tmp / name} {seconds}")


def _uv(tmp: Path, found: list[dict[str, str]]) -> str:
    listing = tmp / "listing.json"
    listing.write_text(json.dumps(found))
    return _script(tmp / "uv", f"cat {listing}")


def test_setup_picks_the_fastest_311_or_312_build_and_ignores_the_others(tmp_path: Path) -> None:
    slow = _build(tmp_path, "slow311", 0.0060)
    fast = _build(tmp_path, "fast311", 0.0040)
    shim = _build(tmp_path, "shim", 0.0035, executable=slow)  # reaches the slow build
    faster_but_unusable = [
        {"implementation": "cpython", "version": "3.13.0", "path": _build(tmp_path, "py313", 0.001)},
        {"implementation": "pypy", "version": "3.11.9", "path": _build(tmp_path, "pypy", 0.001)},
        {"implementation": "cpython", "version": "3.12.1t", "path": _build(tmp_path, "ft", 0.001)},
    ]
    broken = _script(tmp_path / "broken", "exit 1")
    garbled = _script(tmp_path / "garbled", "echo not a time")
    uv = _uv(tmp_path, [{"implementation": "cpython", "version": "3.11.7", "path": slow},
                        {"implementation": "cpython", "version": "3.11.7", "path": shim},
                        {"implementation": "cpython", "version": "3.12.1", "path": broken},
                        {"implementation": "cpython", "version": "3.12.2", "path": garbled},
                        {"implementation": "cpython", "version": "3.11.2", "path": fast},
                        *faster_but_unusable])
    project = tmp_path / "project"
    project.mkdir()
    pick = _pick()
    assert pick.choose(project, {"UV": uv}) == slow  # the shim's best time counts for its build
    Path(shim).write_text(f"#!/bin/sh\necho {slow} 0.0050\n")
    assert pick.choose(project, {"UV": uv}) == fast


def test_setup_keeps_an_existing_venv_and_obeys_python_for_venv(tmp_path: Path) -> None:
    uv = _uv(tmp_path, [{"implementation": "cpython", "version": "3.11.2",
                         "path": _build(tmp_path, "only", 0.004)}])
    pick = _pick()
    assert pick.choose(tmp_path, {"UV": uv, "PYTHON_FOR_VENV": "/opt/py/bin/python3.12"}) \
        == "/opt/py/bin/python3.12"
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert pick.choose(tmp_path, {"UV": uv}) == ""


def test_setup_leaves_the_choice_to_uv_when_nothing_qualifies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uv = _uv(tmp_path, [{"implementation": "cpython", "version": "3.10.13",
                         "path": _build(tmp_path, "old", 0.001)}])
    assert _pick().choose(tmp_path, {"UV": uv}) == ""
    assert _pick().choose(tmp_path, {"UV": str(tmp_path / "no-such-uv")}) == ""
    assert "`uv python list` failed" in capsys.readouterr().err  # make setup shows why
    broken = _uv(tmp_path, [{"implementation": "cpython", "version": "3.11.2",
                             "path": _script(tmp_path / "broken", "exit 1")}])
    assert _pick().choose(tmp_path, {"UV": broken}) == ""
    assert "answered the probe" in capsys.readouterr().err


def test_the_probe_runs_on_a_real_interpreter_and_names_its_executable() -> None:
    out = subprocess.run([sys.executable, "-I", "-c", _pick().PROBE], capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()
    assert out[0] == os.path.realpath(sys.executable)
    assert 0 < float(out[1]) < 10
