"""`robson reset`: wipe trading state (positions, orders, balances, decisions, clocks, streams),
keep the environment (virtualenv, market data, auth keys, earlier reports)."""

from __future__ import annotations

from typing import Annotated

import psutil
import typer
from robson_kit.embedded import Infrastructure

from robson_cli.client import read_run_file
from robson_cli.commands.common import console, fail
from robson_cli.launcher import data_dir, run_file
from robson_cli.runs import forget_run, wipe_trading_state

app = typer.Typer()


@app.command()
def reset(yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False) -> None:
    """Wipe every service's trading state; the next `robson up` starts a clean run."""
    doc = read_run_file(run_file())
    if doc is not None and psutil.pid_exists(int(doc.get("launcher_pid") or 0)):
        fail(f"Robson is running (launcher pid {doc['launcher_pid']}): stop it first (Ctrl-C in its terminal)")
        raise typer.Exit(1)
    directory = data_dir()
    if not yes:
        typer.confirm(f"Wipe all positions, orders, balances and decisions in {directory}?", abort=True)
    infra = Infrastructure(directory)
    try:
        with console.status("starting NATS and PostgreSQL…"):
            infra.start()
        removed = wipe_trading_state(infra.nats_url, infra.database_url)
    finally:
        infra.stop()
    forget_run(directory)
    run_file().unlink(missing_ok=True)
    console.print(f"reset: {len(removed)} schema(s)/stream(s) removed"
                  + (f" ({', '.join(removed)})" if removed else " (nothing to clear)")
                  + "; environment, market data and reports kept")
