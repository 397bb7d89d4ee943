"""`robson reset`: wipe trading state (positions, orders, balances, decisions, clocks, streams),
keep the environment (virtualenv, market data, auth keys, earlier reports)."""

from __future__ import annotations

from typing import Annotated, Any

import psutil
import typer
from robson_kit.embedded import Infrastructure

from robson_cli.client import read_run_file
from robson_cli.commands.common import console, fail
from robson_cli.launcher import data_dir, run_file
from robson_cli.runs import forget_run, wipe_trading_state

app = typer.Typer()


def running_processes(doc: dict[str, Any]) -> list[str]:
    """The launcher and services the run file names that are still alive. A service outlives a
    launcher killed with SIGKILL, and wiping the schemas under it would corrupt its state; a
    run file from an older version or edited by hand may lack a pid or hold anything there."""
    named: list[tuple[str, object]] = [("launcher", doc.get("launcher_pid"))]
    services = doc.get("services")
    if isinstance(services, dict):
        named += [(str(name), entry.get("pid")) for name, entry in services.items()
                  if isinstance(entry, dict)]
    return [f"{name} pid {pid}" for name, pid in named
            if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0
            and psutil.pid_exists(pid)]


@app.command()
def reset(yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False) -> None:
    """Wipe every service's trading state; the next `robson up` starts a clean run."""
    doc = read_run_file(run_file())
    alive = running_processes(doc) if doc is not None else []
    if alive:
        fail(f"Robson is running ({', '.join(alive)}): stop it first (Ctrl-C in its terminal)")
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
