"""The `robson` command."""

from __future__ import annotations

import json
import signal
import time
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table
from robson_kit.embedded import Infrastructure
from robson_signal import downloader

from robson_cli.feed import FeedMode, feed_env
from robson_cli.launcher import Platform, data_dir, run_file
from robson_cli.services import SERVICES

app = typer.Typer(help="Robson: AI-assisted crypto trading platform.", no_args_is_help=True)
app.add_typer(downloader.app, name="data", help="Market data: `robson data download …`.")
console = Console()


@app.command()
def up(
    feed: Annotated[FeedMode, typer.Option(help="market data source")] = FeedMode.AUTO,
    data: Annotated[str, typer.Option(help="kline CSV(.gz) for --feed replay")] = "",
    speed: Annotated[str, typer.Option(help="replay/synthetic speed: 'max' or k × real time")] = "max",
    seed: Annotated[int, typer.Option(help="seed for --feed synthetic")] = 42,
    symbols: Annotated[str, typer.Option(help="comma-separated symbols")] = "BTCUSDT,ETHUSDT",
    timeframes: Annotated[str, typer.Option(help="comma-separated timeframes")] = "5m",
    only: Annotated[list[str] | None, typer.Option(help="start only these services")] = None,
) -> None:
    """Start NATS + Postgres (embedded unless NATS_URL/DATABASE_URL), migrate, run every service."""
    try:
        chosen, env = feed_env(feed, data, speed, seed, symbols, timeframes)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"[bold yellow]FEED: {chosen.upper()}[/bold yellow] ({env.get('why', '')}) — paper trading")
    env.pop("why", None)
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with console.status("starting NATS and PostgreSQL…"):
        infra = Infrastructure(directory).start()
    where = {k: ("embedded" if v else "external") for k, v in infra.embedded.items()}
    console.print(f"[bold]NATS[/bold] {infra.nats_url} ({where['nats']})")
    console.print(f"[bold]PostgreSQL[/bold] {infra.database_url} ({where['postgres']})")
    platform = Platform(infra, extra_env=env)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        with console.status("running migrations…"):
            platform.migrate()
        for svc in SERVICES:
            if only and svc.name not in only:
                continue
            running = platform.start_service(svc)
            with console.status(f"starting {svc.name}…"):
                platform.wait_ready(running)
            console.print(f"  [green]✓[/green] {svc.name:<11} {running.url}  (log {running.log_path})")
        platform.write_run_file({"mode": chosen, "symbols": symbols, "timeframes": timeframes})
        console.print(f"[bold green]Robson is up.[/bold green] Data in {directory}. Ctrl-C stops everything.")
        while not stopping:
            for running in platform.services:
                if running.process and running.process.poll() is not None:
                    console.print(f"[red]{running.definition.name} exited "
                                  f"({running.process.returncode}); see {running.log_path}[/red]")
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping…"):
            platform.stop()
        console.print("stopped.")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Health of every running service."""
    if not run_file().exists():
        if as_json:
            print(json.dumps({"running": False}))
        else:
            console.print("Robson is not running (no .data/run.json). Start it with `make run`.")
        raise typer.Exit(1)
    doc = json.loads(run_file().read_text())
    for svc in doc["services"].values():
        try:
            response = httpx.get(f"{svc['url']}/readyz", timeout=3)
            svc["health"] = "ready" if response.status_code == 200 else "not ready"
            svc["checks"] = response.json().get("checks", {})
        except httpx.HTTPError as exc:
            svc["health"] = f"unreachable ({type(exc).__name__})"
    doc["running"] = True
    if as_json:
        print(json.dumps(doc, indent=2))
        return
    table = Table(title=f"Robson — NATS {doc['nats_url']}  feed {doc['feed'].get('mode')}")
    for col in ("service", "url", "pid", "health"):
        table.add_column(col)
    for name, svc in doc["services"].items():
        colour = "green" if svc["health"] == "ready" else "red"
        table.add_row(name, svc["url"], str(svc["pid"]), f"[{colour}]{svc['health']}[/{colour}]")
    console.print(table)


@app.command()
def migrate() -> None:
    """Run every service's migrations against DATABASE_URL (or the embedded Postgres)."""
    infra = Infrastructure(data_dir()).start()
    try:
        Platform(infra).migrate()
        console.print("migrations at head for: " + ", ".join(s.name for s in SERVICES))
    finally:
        infra.stop()


if __name__ == "__main__":
    app()
