"""`robson up` as a process: refuses a bad config before starting anything, ends a replay with
a report, and stops services and the embedded NATS/Postgres on SIGINT."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil
import pytest

from .harness import TEST_CONFIG, RobsonUp


def alive(pids: set[int]) -> dict[int, str]:
    out = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                out[pid] = " ".join(proc.cmdline())[:200]
        except psutil.NoSuchProcess:
            pass
    return out


def gone(pids: set[int], grace: float = 15.0) -> dict[int, str]:
    """What is still alive after a grace period (a postmaster exits just after its pid file)."""
    deadline = time.monotonic() + grace
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def processes_using(directory: Path) -> set[int]:
    """Embedded nats-server and postgres carry their data directory on the command line."""
    found = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if any(str(directory) in part for part in proc.info["cmdline"] or ()):
            found.add(proc.info["pid"])
    return found


def test_up_with_invalid_config_exits_2_naming_the_field_and_starts_nothing(robson_up: RobsonUp) -> None:
    (robson_up.root / "robson.yaml").write_text(TEST_CONFIG.replace("[BTCUSDT]", "[BTCUSDT, BTC-USD]"))
    robson_up.start("--feed", "none")
    assert robson_up.proc is not None and robson_up.proc.wait(60) == 2
    assert "traders[0].symbols[1]: 'BTC-USD' is not a symbol" in robson_up.output()
    assert not robson_up.data.exists()  # no NATS, Postgres, logs or run file


def test_up_with_live_account_but_no_live_flag_exits_2(robson_up: RobsonUp) -> None:
    (robson_up.root / "robson.yaml").write_text(TEST_CONFIG.replace("  - id: acc1\n", "  - id: acc1\n    mode: live\n"))
    robson_up.start("--feed", "none")
    assert robson_up.proc is not None and robson_up.proc.wait(60) == 2
    assert "mode live needs `robson up --live`" in robson_up.output()
    assert not robson_up.data.exists()


def test_check_config_reports_every_problem_with_exit_2(robson_up: RobsonUp) -> None:
    bad = robson_up.root / "bad.yaml"
    bad.write_text(TEST_CONFIG.replace("fast: 9", "fast: 30").replace("acc1\n    strategy", "nobody\n    strategy"))
    done = robson_up.cli("check-config", str(bad))
    assert done.returncode == 2
    assert "traders[0].params: invalid params for ema_cross" in done.stderr


def test_replay_with_exit_after_replay_writes_the_report_and_exits_0(
        robson_up: RobsonUp, replay_file: Path) -> None:
    robson_up.start("--feed", "replay", "--data", str(replay_file), "--exit-after-replay")
    assert robson_up.proc is not None and robson_up.proc.wait(300) == 0, robson_up.output()
    [report_json] = sorted((robson_up.data / "reports").glob("*.json"))
    report = json.loads(report_json.read_text())
    assert report["feed"]["finished"] is True and report["feed"]["candles"] == 400
    performance = report["accounts"]["acc1"]["performance"]
    assert performance["account_id"] == "acc1" and performance["trades"] >= 1
    assert report["trade_count"] == performance["trades"] == len(report["trades"])
    assert sum(v["trades"] for v in report["by_exit_reason"].values()) == report["trade_count"]
    assert report_json.stem == report["run_id"] and report["start_equity"] == "10000"
    assert report_json.with_suffix(".md").read_text().startswith(f"# Robson run report — run {report['run_id']}")
    assert "config paper: account acc1 created (USDT 10000)" in robson_up.output()
    assert not (robson_up.data / "run.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_stops_every_service_and_the_embedded_infrastructure_with_exit_0(
        robson_up: RobsonUp, sig: signal.Signals) -> None:
    for key in ("NATS_URL", "DATABASE_URL"):
        robson_up.env.pop(key)  # embedded NATS and Postgres under the run's data dir
    robson_up.start("--feed", "synthetic", "--only", "paper", "--only", "signal")
    doc = robson_up.wait_for("the platform to be up", lambda: "Robson is up" in robson_up.output()
                             and robson_up.run_file())
    children = {svc["pid"] for svc in doc["services"].values()} | processes_using(robson_up.data)
    assert len(children) >= 4 and set(alive(children)) == children  # 2 services, nats, postgres
    assert robson_up.stop(sig) == 0, robson_up.output()
    assert gone(children) == {}
    assert gone(processes_using(robson_up.data)) == {}
    assert not (robson_up.data / "run.json").exists()
