"""The `robson` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from robson_kit.embedded import Infrastructure
from robson_signal import downloader

from robson_cli.auth import use_token
from robson_cli.commands import backtest as backtest_cmd
from robson_cli.commands import dlq, ops, positions, reset, verbs
from robson_cli.commands import notify as notify_cmd
from robson_cli.commands import status as status_cmd
from robson_cli.commands import token as token_cmd
from robson_cli.commands.common import console, fail
from robson_cli.commands.up import UpRun
from robson_cli.config import ConfigError, RobsonConfig, default_config, load_config
from robson_cli.feed import FeedMode, feed_env, is_realtime
from robson_cli.fmt import Display
from robson_cli.launcher import Platform, data_dir
from robson_cli.remote import TARGET
from robson_cli.services import SERVICES

app = typer.Typer(help="Robson: AI-assisted crypto trading platform.", no_args_is_help=True)
app.add_typer(downloader.app, name="data", help="Market data: `robson data download …`.")
app.add_typer(dlq.app, name="dlq", help="Dead letters: `robson dlq list|show|replay|discard`.")
app.registered_commands.extend(status_cmd.app.registered_commands)
app.registered_commands.extend(positions.app.registered_commands)
app.registered_commands.extend(ops.app.registered_commands)
app.add_typer(token_cmd.app, name="token")
app.add_typer(notify_cmd.notify_app, name="notify")
app.registered_commands.extend(notify_cmd.app.registered_commands)
app.registered_commands.extend(reset.app.registered_commands)
app.registered_commands.extend(verbs.app.registered_commands)
app.registered_commands.extend(backtest_cmd.app.registered_commands)


@app.callback()
def main(
    url: Annotated[list[str] | None, typer.Option(
        help="remote services: a base URL (each service under BASE/<service>/) or NAME=URL; "
             "also ROBSON_URL. The token is ROBSON_TOKEN")] = None,
    profile: Annotated[str | None, typer.Option(
        help="a profile of ~/.config/robson/profiles.yaml (url, token_file); also ROBSON_PROFILE")] = None,
    utc: Annotated[bool, typer.Option("--utc", help="times in UTC (default: local time)")] = False,
    token: Annotated[str | None, typer.Option(
        envvar="ROBSON_TOKEN", help="bearer token for the services' APIs (default: a local admin "
                                    "token from .data/auth/)")] = None,
) -> None:
    """Robson: AI-assisted crypto trading platform."""
    TARGET.urls, TARGET.profile = list(url or []), profile
    Display.utc = utc
    use_token(token)


def resolve_config(path: Path | None) -> tuple[RobsonConfig, str]:
    """--config PATH, else ./robson.yaml when present, else the built-in default."""
    if path is None and Path("robson.yaml").is_file():
        path = Path("robson.yaml")
    if path is None:
        return default_config(), "built-in default configuration"
    return load_config(path), str(path.resolve())


@app.command()
def up(
    feed: Annotated[FeedMode, typer.Option(help="market data source")] = FeedMode.AUTO,
    data: Annotated[str, typer.Option(help="kline CSV(.gz) for --feed replay")] = "",
    speed: Annotated[str, typer.Option(
        help="replay/synthetic speed: 'max' or k × real time; synthetic at 1 is an endless live "
             "demo on the wall clock")] = "max",
    seed: Annotated[int, typer.Option(help="seed for --feed synthetic")] = 42,
    symbols: Annotated[str, typer.Option(help="comma-separated symbols (default: the config's)")] = "",
    timeframes: Annotated[str, typer.Option(help="comma-separated timeframes (default: the config's)")] = "",
    config: Annotated[Path | None, typer.Option(
        help="robson.yaml / .toml (default ./robson.yaml if present, else the built-in one)")] = None,
    live: Annotated[bool, typer.Option(help="allow accounts with mode: live in the config")] = False,
    exit_after_replay: Annotated[bool, typer.Option(
        help="stop once a replay (or finite synthetic feed) is done and reported")] = False,
    only: Annotated[list[str] | None, typer.Option(help="start only these services")] = None,
) -> None:
    """Start NATS + Postgres (embedded unless NATS_URL/DATABASE_URL), migrate, run every service,
    apply the configuration, start the feed."""
    try:
        settings, source = resolve_config(config)
        if settings.live_accounts and not live:
            raise ConfigError([f"accounts {', '.join(settings.live_accounts)}: mode live needs "
                               "`robson up --live` (live trading is never implicit)"])
        chosen, env = feed_env(feed, data, speed, seed,
                               symbols or ",".join(settings.feed_symbols() or ["BTCUSDT", "ETHUSDT"]),
                               timeframes or ",".join(settings.feed_timeframes() or ["5m"]))
    except (ConfigError, ValueError) as exc:
        fail(f"invalid configuration, nothing started:\n{exc}")
        raise typer.Exit(2) from None
    venue = "LIVE trading for " + ", ".join(settings.live_accounts) if settings.live_accounts else "paper trading"
    console.print(f"[bold yellow]FEED: {chosen.upper()}[/bold yellow] ({env.pop('why', '')}) — {venue}")
    console.print(f"config: {source}")
    env["ROBSON_SIGNAL_FEED_AUTOSTART"] = "false"  # the feed starts once the config is applied
    feed_info = {"mode": chosen, "symbols": env["ROBSON_SIGNAL_SYMBOLS"],
                 "timeframes": env["ROBSON_SIGNAL_TIMEFRAMES"], "realtime": is_realtime(chosen, speed)}
    run = UpRun(settings, source, chosen, env, feed_info, console, only=only,
                exit_after_replay=exit_after_replay)
    raise typer.Exit(run.run())


@app.command()
def migrate() -> None:
    """Run every service's migrations against DATABASE_URL (or the embedded Postgres)."""
    infra = Infrastructure(data_dir())
    try:
        infra.start()
        Platform(infra).migrate()
        console.print("migrations at head for: " + ", ".join(s.name for s in SERVICES))
    finally:
        infra.stop()


@app.command("check-config")
def check_config(path: Annotated[Path, typer.Argument(help="robson.yaml or .toml")] = Path("robson.yaml")) -> None:
    """Validate a configuration file without starting anything (exit 2 when invalid)."""
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        fail(str(exc))
        raise typer.Exit(2) from None
    console.print(f"[green]valid[/green]: {len(loaded.accounts)} account(s), {len(loaded.traders)} trader(s)")


if __name__ == "__main__":
    app()
