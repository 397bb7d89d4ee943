"""A newcomer's session, scripted: run a replay, change the config, run again on the same data
directory, inspect, reset. Each replay run stands on its own (its own clocks, accounts and
report); a run without a feed continues the last one; a removed trader is disabled."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from .harness import TEST_CONFIG, RobsonUp

# The gate's default freshness limit stays on: a second run must not see its prices as stale.
CONFIG = TEST_CONFIG.replace("      market: {max_data_age_seconds: null}\n", "")
SECOND_TRADER = """  - id: t2
    account: acc1
    strategy: ema_cross
    params: {fast: 5, slow: 13}
    symbols: [BTCUSDT]
    timeframes: [5m]
"""
REPLAY_START, REPLAY_END = "2024-01-01T00:00:00+00:00", "2024-01-02T09:20:00+00:00"  # 400 × 5m


def replay_run(up: RobsonUp, replay_file: Path) -> dict[str, Any]:
    up.start("--feed", "replay", "--data", str(replay_file))
    doc = up.wait_replay_reported()
    report = json.loads(Path(doc["report"]).read_text())
    positions = up.json("positions", "--limit", "500")
    gate = up.json("gate")["acc1"]["decisions"]
    assert up.stop(signal.SIGINT) == 0, up.output()
    return {"report": report, "positions": positions, "gate": gate, "output": up.output()}


def denial_codes(gate: list[dict[str, Any]]) -> set[str]:
    return {c["reason_code"] for d in gate for c in d.get("checks", []) if not c["passed"]}


@pytest.mark.timeout(1200)  # four `robson up`s on a shared 2-core host
def test_newcomer_reruns_a_changed_config_then_resets_to_a_clean_state(
        robson_up: RobsonUp, replay_file: Path) -> None:
    config = robson_up.root / "robson.yaml"
    config.write_text(CONFIG)
    first = replay_run(robson_up, replay_file)
    assert first["report"]["trade_count"] >= 1
    assert "MARKET_DATA_STALE" not in denial_codes(first["gate"])

    config.write_text(CONFIG.replace("fast: 9, slow: 21", "fast: 7, slow: 21") + SECOND_TRADER)
    second = replay_run(robson_up, replay_file)
    assert "new run" in second["output"]
    assert second["report"]["run_id"] != first["report"]["run_id"]
    assert "MARKET_DATA_STALE" not in denial_codes(second["gate"])
    assert second["report"]["trade_count"] >= 1
    # Only this run's positions, all inside the replayed period: no clock left from run 1.
    assert {p["trader_id"] for p in second["positions"]} <= {"t1", "t2"}
    assert all(REPLAY_START <= p["created_at"] <= REPLAY_END for p in second["positions"])
    assert not [p for p in second["positions"] if p["status"] == "PENDING_ENTRY"]
    closed = [p for p in second["positions"] if p["status"] == "CLOSED"]
    assert len(closed) == second["report"]["trade_count"]
    assert second["report"]["start_equity"] == "10000"

    # No feed: the last run continues (to inspect it); the trader left out is disabled.
    config.write_text(CONFIG)
    robson_up.start("--feed", "none")
    robson_up.wait_for("the platform", lambda: "Robson is up" in robson_up.output())
    assert "continues" in robson_up.output()
    assert "trader t2 disabled (no longer in the configuration)" in robson_up.output()
    assert len(robson_up.json("positions", "--limit", "500")) == len(second["positions"])
    assert robson_up.cli("reset", "--yes").returncode == 1  # refused while running
    assert robson_up.stop(signal.SIGINT) == 0

    done = robson_up.cli("reset", "--yes")
    assert done.returncode == 0, done.stderr
    robson_up.start("--feed", "none")
    robson_up.wait_for("the platform", lambda: "Robson is up" in robson_up.output())
    assert robson_up.json("positions") == []
    assert robson_up.json("gate")["acc1"]["decisions"] == []
