"""`robson reset` refuses while anything the run file names is alive, and reads a run file it
did not write (an older version's, one edited by hand) without crashing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from robson_cli.commands.reset import app, running_processes
from typer.testing import CliRunner


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: dict[str, object]) -> object:
    monkeypatch.setenv("ROBSON_DATA_DIR", str(tmp_path))
    (tmp_path / "run.json").write_text(json.dumps(doc))
    return CliRunner().invoke(app, ["--yes"])


def test_reset_with_a_service_alive_after_its_launcher_was_killed_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dead_pid: int) -> None:
    doc = {"launcher_pid": dead_pid,
           "services": {"position": {"pid": os.getpid()}, "paper": {"pid": dead_pid}}}
    result = _reset(tmp_path, monkeypatch, doc)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert f"position pid {os.getpid()}" in result.output  # type: ignore[attr-defined]
    assert (tmp_path / "run.json").exists()  # nothing wiped, nothing forgotten


def test_reset_with_a_run_file_lacking_the_launcher_pid_names_the_live_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _reset(tmp_path, monkeypatch, {"services": {"signal": {"pid": os.getpid()}}})
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "signal pid" in result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_run_file_pids_that_are_missing_malformed_or_dead_count_as_stopped(dead_pid: int) -> None:
    assert running_processes({}) == []
    assert running_processes({"launcher_pid": None, "services": None}) == []
    assert running_processes({"launcher_pid": 0, "services": {"a": {"pid": -1}}}) == []
    assert running_processes({"launcher_pid": "1", "services": {"a": {"pid": True}, "b": "x"}}) == []
    assert running_processes({"launcher_pid": dead_pid}) == []
    assert running_processes({"launcher_pid": os.getpid()}) == [f"launcher pid {os.getpid()}"]
