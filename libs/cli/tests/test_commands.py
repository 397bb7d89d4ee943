"""Operator commands and apply_config against a running platform that replayed a series.
The last test stops the platform with SIGINT: keep it last."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from robson_cli.auth import current_token
from robson_cli.config import apply_config, load_config
from robson_contracts import TradeTick
from robson_kit.bus import Bus

from .harness import RobsonUp


@pytest.fixture(autouse=True)
def local_operator(running_replay: RobsonUp, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process calls sign with the run's local key, as the `robson` CLI does."""
    monkeypatch.setenv("ROBSON_DATA_DIR", str(running_replay.data))


def get(url: str) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {current_token()}"})


def urls(up: RobsonUp) -> dict[str, str]:
    doc = up.run_file()
    assert doc is not None
    return {name: svc["url"] for name, svc in doc["services"].items()}


def test_status_json_gives_every_service_its_url_pid_health_and_the_finished_replay(
        running_replay: RobsonUp) -> None:
    status = running_replay.json("status")
    assert set(status["services"]) == {"notify", "paper", "execution", "position", "entry_gate",
                                       "decision", "signal", "dashboard"}
    for svc in status["services"].values():
        assert svc["url"].startswith("http://127.0.0.1:") and svc["pid"] > 0 and svc["health"] == "ready"
    assert status["feed"]["mode"] == "replay" and status["feed"]["replay_finished"] is True
    assert [a["account_id"] for a in status["accounts_equity"]] == ["acc1"]


def test_apply_config_again_changes_nothing_and_a_changed_setting_is_applied_once(
        running_replay: RobsonUp) -> None:
    path = running_replay.root / "robson.yaml"
    config, where = load_config(path), urls(running_replay)
    assert apply_config(config, where) == []  # `robson up` applied it already
    changed = path.with_name("changed.yaml")
    changed.write_text(path.read_text().replace("min_confidence: 0.6", "min_confidence: 0.65"))
    gate_and_decision = apply_config(load_config(changed), where)  # one threshold for both
    assert gate_and_decision[0] == "entry_gate: risk policy of account acc1 set"
    assert [line.split(" (")[0] for line in gate_and_decision[1:]] == [
        "decision: trader t1 decides with rules"]
    assert "min confidence 0.65" in gate_and_decision[1]
    assert apply_config(load_config(changed), where) == []
    policy = get(f"{where['entry_gate']}/policies/acc1").json()["policy"]
    assert Decimal(policy["positions"]["min_confidence"]) == Decimal("0.65")
    assert len(apply_config(config, where)) == 2


def test_apply_config_account_allow_short_reaches_the_venue_and_the_gate(
        running_replay: RobsonUp) -> None:
    path = running_replay.root / "robson.yaml"
    config, where = load_config(path), urls(running_replay)
    spot = path.with_name("spot.yaml")
    spot.write_text(path.read_text().replace("allow_short: true", "allow_short: false"))
    try:
        assert apply_config(load_config(spot), where) == [
            "paper: account acc1 updated (USDT 10000)",
            "entry_gate: risk policy of account acc1 set",
            "decision: trader t1 decides with rules (min confidence 0.6, shorts off)"]
        assert get(f"{where['paper']}/accounts/acc1").json()["allow_short"] is False
        assert get(f"{where['entry_gate']}/policies/acc1").json()["policy"]["allow_short"] is False
    finally:
        apply_config(config, where)
    assert get(f"{where['entry_gate']}/policies/acc1").json()["policy"]["allow_short"] is True


def test_read_commands_json_agree_with_each_other(running_replay: RobsonUp) -> None:
    positions = running_replay.json("positions", "--account", "acc1")
    closed = [p for p in positions if p["status"] == "CLOSED"]
    assert positions and all(p["account_id"] == "acc1" for p in positions)
    decisions = running_replay.json("decisions", "--trader", "t1", "--limit", "100")
    assert decisions and {d["trader_id"] for d in decisions} == {"t1"}
    entries = [d for d in decisions if d["kind"] in ("LONG", "SHORT")]
    gate = running_replay.json("gate", "--account", "acc1", "--limit", "100")["acc1"]
    assert len(gate["decisions"]) == len(entries)
    assert {"max_concurrency", "open_positions", "slots_free"} <= set(gate["risk"]["risk_budget"])
    performance = running_replay.json("performance", "--account", "acc1")["account acc1"]
    assert performance["trades"] == len(closed)
    trader = running_replay.json("performance", "--trader", "t1")["trader t1"]
    assert trader["total_pnl"] == performance["total_pnl"]


def test_status_filter_on_positions_returns_only_that_status(running_replay: RobsonUp) -> None:
    closed = running_replay.json("positions", "--status", "CLOSED")
    assert closed and {p["status"] for p in closed} == {"CLOSED"}


def test_unknown_position_close_prints_the_services_error_and_exits_1(running_replay: RobsonUp) -> None:
    done = running_replay.cli("close", "no-such-position")
    assert done.returncode == 1
    assert "position: POST /positions/no-such-position/close → 404: no position no-such-position" in done.stderr


def test_close_of_a_closed_position_is_refused_with_the_services_reason(running_replay: RobsonUp) -> None:
    closed = running_replay.json("positions", "--status", "CLOSED")[0]["position_id"]
    done = running_replay.cli("close", closed)
    assert done.returncode == 1 and "409" in done.stderr and "nothing to close" in done.stderr


def test_pause_then_resume_flips_the_traders_state_in_position(running_replay: RobsonUp) -> None:
    policy_url = f"{urls(running_replay)['position']}/traders/t1/policy"
    done = running_replay.cli("pause", "t1")
    assert done.returncode == 0 and "paused" in done.stdout
    assert get(policy_url).json()["paused"] is True
    done = running_replay.cli("resume", "t1")
    assert done.returncode == 0 and "active" in done.stdout
    assert get(policy_url).json()["paused"] is False


def test_unknown_status_trader_and_account_are_errors_with_exit_1(running_replay: RobsonUp) -> None:
    done = running_replay.cli("positions", "--status", "bogus")
    assert done.returncode == 1 and "--status bogus: unknown status" in done.stderr
    done = running_replay.cli("pause", "nosuchtrader")
    assert done.returncode == 1 and "unknown trader 'nosuchtrader' (bound traders: t1)" in done.stderr
    done = running_replay.cli("decisions", "--trader", "nosuchtrader")
    assert done.returncode == 1 and "unknown trader" in done.stderr
    done = running_replay.cli("gate", "--account", "nosuchaccount")
    assert done.returncode == 1 and "unknown account 'nosuchaccount' (accounts: acc1)" in done.stderr


def test_every_list_command_has_the_same_limit_contract(running_replay: RobsonUp) -> None:
    for command in ("positions", "decisions", "gate"):
        done = running_replay.cli(command, "--limit", "501")
        assert done.returncode == 2 and "less than or equal to 500" in done.stderr, (command, done.stderr)
    assert len(running_replay.json("positions", "--limit", "1")) == 1


def test_piped_positions_table_is_never_cut_and_reads_like_a_trading_tool(running_replay: RobsonUp) -> None:
    closed = running_replay.json("positions", "--status", "closed")
    done = running_replay.cli("--utc", "positions", "--status", "closed")
    assert done.returncode == 0 and "…" not in done.stdout
    row = next(line for line in done.stdout.splitlines() if closed[0]["position_id"] in line)
    exit_price = Decimal(closed[0]["exit_price"]).quantize(Decimal("0.01"))  # BTCUSDT tick 0.01
    assert f"{exit_price:,f}" in row and closed[0]["exit_reason"] in row and " UTC" in row
    size = sum(Decimal(c["quantity"]) for c in closed[0]["closes"])
    assert f"{size.quantize(Decimal('0.00001')):f}" in row  # BTCUSDT step 0.00001: the closed size
    assert "E+" not in done.stdout and "0.6666666" not in done.stdout


def test_status_shows_free_locked_and_borrowed_balances(running_replay: RobsonUp) -> None:
    done = running_replay.cli("status")
    assert done.returncode == 0
    assert all(word in done.stdout for word in ("free", "locked", "borrowed", "event time"))
    assert "lag" not in done.stdout  # a replay's event time is not the wall clock


def test_remote_urls_reach_the_services_without_a_run_file(running_replay: RobsonUp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = [f"--url={name}={url}" for name, url in urls(running_replay).items()]
    expected = len(running_replay.json("positions"))
    env_data = running_replay.env["ROBSON_DATA_DIR"]
    running_replay.env["ROBSON_DATA_DIR"] = str(tmp_path)  # no run.json there, no signing key
    try:
        refused = running_replay.cli(*args, "positions", "--json")
        assert refused.returncode != 0 and "MISSING_TOKEN" in refused.stderr
        remote_token = current_token()  # what `robson token create` prints, for remote use
        done = running_replay.cli(*args, f"--token={remote_token}", "positions", "--json")
        assert done.returncode == 0, done.stderr
        assert done.stdout.count('"position_id"') == expected
        assert running_replay.cli("--url", "nosuch=http://x", "positions").returncode == 2
    finally:
        running_replay.env["ROBSON_DATA_DIR"] = env_data


def test_apply_verb_is_idempotent_and_disables_a_trader_left_out(running_replay: RobsonUp) -> None:
    path = running_replay.root / "robson.yaml"
    extra = path.with_name("two.yaml")
    extra.write_text(path.read_text() + """  - id: t9
    account: acc1
    strategy: ema_cross
    params: {fast: 5, slow: 13}
    symbols: [BTCUSDT]
    timeframes: [5m]
""")
    done = running_replay.cli("apply", "--config", str(extra))
    assert done.returncode == 0 and "trader t9 runs ema_cross" in done.stdout, done.stderr
    done = running_replay.cli("apply", "--config", str(path))
    assert done.returncode == 0 and "trader t9 disabled (no longer in the configuration)" in done.stdout
    assert get(f"{urls(running_replay)['signal']}/traders/t9").json()["enabled"] is False
    done = running_replay.cli("apply", "--config", str(path))
    assert done.returncode == 0 and "nothing to change" in done.stdout


def test_close_all_without_yes_asks_and_aborts_on_no(running_replay: RobsonUp) -> None:
    done = running_replay.cli("close-all", "acc1", stdin="n\n")
    assert done.returncode == 1 and "Close every open position of account acc1?" in done.stdout


def test_close_all_with_yes_closes_every_open_position(running_replay: RobsonUp) -> None:
    open_before = running_replay.json("positions", "--status", "open")
    done = running_replay.cli("close-all", "acc1", "--yes")
    assert done.returncode == 0 and f"closing {len(open_before)} position(s)" in done.stdout
    # The replay is over: paper fills a market close at the next price, so the market moves on.
    asyncio.run(_tick(running_replay, {p["symbol"]: p["last_price"] or p["entry_price"] for p in open_before}))
    running_replay.wait_for("every position to be closed",
                            lambda: not running_replay.json("positions", "--status", "open"), timeout=60)


async def _tick(up: RobsonUp, prices: dict[str, str]) -> None:
    bus = await Bus(up.env["NATS_URL"], name="cli-tests-market").connect()
    try:
        for symbol, price in prices.items():
            await bus.publish(TradeTick(occurred_at=datetime.now(UTC), symbol=symbol, price=price))
    finally:
        await bus.close()


def test_token_create_gives_a_read_token_and_revoke_refuses_it_everywhere(running_replay: RobsonUp) -> None:
    import time

    from robson_kit.auth import tokens

    made = running_replay.cli("token", "create", "--scope", "read", "--ttl", "10m", "--subject", "viewer")
    assert made.returncode == 0, made.stderr
    value = made.stdout.strip()
    assert running_replay.cli("--token", value, "positions", "--json").returncode == 0
    refused = running_replay.cli("--token", value, "pause", "t1")
    assert refused.returncode == 1 and "403" in refused.stderr and "INSUFFICIENT_SCOPE" in refused.stderr
    jti = tokens.unverified_claims(value)["jti"]
    assert running_replay.cli("token", "revoke", jti).returncode == 0
    deadline, done = time.monotonic() + 15, None
    while time.monotonic() < deadline:
        done = running_replay.cli("--token", value, "positions", "--json")
        if done.returncode == 1:
            break
    assert done is not None and done.returncode == 1 and "TOKEN_REVOKED" in done.stderr
    assert value not in done.stderr


def test_sigint_stops_the_running_platform_with_exit_0_and_all_services_gone(running_replay: RobsonUp) -> None:
    doc = running_replay.run_file()
    assert doc is not None
    from .test_up import gone

    assert running_replay.stop() == 0
    assert gone({svc["pid"] for svc in doc["services"].values()}) == {}
    assert running_replay.run_file() is None
