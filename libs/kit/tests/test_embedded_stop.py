"""Stopping the embedded Postgres returns only once its postmaster has exited."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
from robson_kit.embedded import EmbeddedPostgres


def _exited(pid: int) -> bool:
    """Gone, or a zombie its parent (the system's init: pg_ctl detaches it) has not reaped yet."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stop_returns_only_once_a_postmaster_that_does_not_answer_has_exited(tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / "pg").start()
    pid = int((postgres.pgdata / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGSTOP)  # hung: takes no shutdown request
    try:
        postgres.stop(timeout=3)
        assert _exited(pid)
    finally:
        if not _exited(pid):
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)


def test_stop_of_a_running_postgres_leaves_no_process_behind(tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / "pg").start()
    pid = int((postgres.pgdata / "postmaster.pid").read_text().splitlines()[0])
    postgres.stop()
    assert _exited(pid)
    postgres.stop()  # a second stop is harmless
