"""`robson up`: validate the config, start NATS/Postgres and the services, apply the config,
start the feed, watch; a finished replay ends with a performance report. SIGINT, SIGTERM and
SIGHUP (and the parent `uv run` going away) all stop services, then NATS and Postgres."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from robson_kit.auth.redact import redact_url
from robson_kit.embedded import Infrastructure

from robson_cli.client import ServiceError, Services
from robson_cli.config import RobsonConfig, apply_config
from robson_cli.drain import wait_drained
from robson_cli.fmt import money, pct, when
from robson_cli.launcher import Platform, data_dir
from robson_cli.report import build_report, write_report
from robson_cli.runs import (
    RunInfo,
    begin_run,
    continues,
    has_trading_state,
    previous_run,
    wipe_trading_state,
)
from robson_cli.services import SERVICES

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """Raised in the main thread by a stop signal, so a blocking start-up step is abandoned too."""


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


@dataclass
class UpRun:
    config: RobsonConfig
    config_source: str
    feed_mode: str
    env: dict[str, str]
    feed_info: dict[str, Any]
    console: Console
    only: list[str] | None = None
    exit_after_replay: bool = False
    platform: Platform | None = field(default=None, init=False)
    run_info: RunInfo | None = field(default=None, init=False)
    reported: bool = field(default=False, init=False)

    def run(self) -> int:
        for sig in STOP_SIGNALS:
            signal.signal(sig, _raise_stopped)
        parent = os.getppid()
        try:
            self.start()
            if not self.configure():
                return 1
            return self.watch(parent)
        except Stopped as why:
            for sig in STOP_SIGNALS:  # a second signal (Ctrl-C, or uv forwarding one) is ignored
                signal.signal(sig, signal.SIG_IGN)
            self.console.print(f"\n{why}: stopping…")
            self.report_on_stop()
            return 0
        except (RuntimeError, TimeoutError, OSError) as exc:
            self.console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
            return 1
        finally:
            for sig in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
                signal.signal(sig, signal.SIG_IGN)
            if self.platform is not None:
                with self.console.status("stopping services, then NATS and PostgreSQL…"):
                    self.platform.stop()
                self.console.print("stopped.")

    def start(self) -> None:
        if self.feed_mode == "binance" and self.config.market_context:
            # live market data: signal polls each traded symbol's perpetual for the gate (a
            # replay's event time is far from now, so today's funding would judge nothing)
            self.env["ROBSON_SIGNAL_CONTEXT_SYMBOLS"] = self.config.context_symbols()
        # The file's venue for paper, as `robson backtest` uses it (ROBSON_PAPER_* set win).
        for key, value in self.config.venue.paper_env().items():
            self.env.setdefault(key, value)
        directory = data_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self.platform = Platform(Infrastructure(directory), extra_env=self.env)
        with self.console.status("starting NATS and PostgreSQL…"):
            infra = self.platform.infra.start()
        where = {k: ("embedded" if v else "external") for k, v in infra.embedded.items()}
        self.console.print(f"[bold]NATS[/bold] {redact_url(infra.nats_url)} ({where['nats']})")
        self.console.print(f"[bold]PostgreSQL[/bold] {redact_url(infra.database_url)} ({where['postgres']})")
        self.begin_run(directory)
        with self.console.status("running migrations…"):
            self.platform.migrate()
        for svc in SERVICES:
            if self.only and svc.name not in self.only:
                continue
            running = self.platform.start_service(svc)
            with self.console.status(f"starting {svc.name}…"):
                self.platform.wait_ready(running)
            self.console.print(f"  [green]✓[/green] {svc.name:<11} {running.url}  (log {running.log_path})")
        self.write_run_file()

    def begin_run(self, directory: Path) -> None:
        """Continue the previous run, or start a separate one from clean trading state."""
        assert self.platform is not None
        infra = self.platform.infra
        previous = previous_run(directory)
        if continues(previous, self.feed_mode):
            assert previous is not None
            self.run_info = previous
            self.console.print(f"[bold]run[/bold] {previous.run_id} continues ({previous.feed} feed)")
            return
        if has_trading_state(infra.database_url):
            with self.console.status("clearing the previous run's trading state…"):
                wipe_trading_state(infra.nats_url, infra.database_url)
            why = ("it starts again from its first candle" if self.feed_mode in ("replay", "synthetic")
                   else "the previous run used another feed")
            self.console.print(f"[bold]new run[/bold]: the {self.feed_mode} feed cannot continue the "
                               f"previous run ({why}): its positions, orders and clocks were cleared; "
                               "earlier reports stay in reports/")
        self.run_info = begin_run(directory, self.feed_mode, previous)
        self.console.print(f"[bold]run[/bold] {self.run_info.run_id} ({self.feed_mode} feed)")

    def write_run_file(self, **extra: object) -> None:
        assert self.platform is not None
        if self.run_info is not None:
            extra = {"run_id": self.run_info.run_id, **extra}
        self.platform.write_run_file(
            self.feed_info, config=self.config_source,
            accounts=[a.id for a in self.config.accounts],
            traders={t.id: t.account for t in self.config.traders}, **extra)

    def configure(self) -> bool:
        """Apply the config, then start the feed; False (after saying why) when a service refuses."""
        assert self.platform is not None
        urls = self.platform.urls
        try:
            with self.console.status(f"applying {self.config_source}…"):
                done = apply_config(self.config, urls)
            for line in done or ["configuration already in place: nothing to change"]:
                self.console.print(f"  [cyan]config[/cyan] {line}")
            if "signal" in urls:
                with Services(urls) as services:
                    services["signal"].post("/feed/start")
        except ServiceError as exc:
            self.console.print(f"[red]configuration refused by {escape(str(exc))}[/red]", soft_wrap=True)
            return False
        self.console.print(f"[bold green]Robson is up.[/bold green] Data in {data_dir()}. "
                           "Ctrl-C stops everything.")
        if "dashboard" in urls:
            self.console.print(f"[bold]Dashboard[/bold] {urls['dashboard']}  (open it in a browser)")
        self.console.print("APIs need a bearer token (this CLI uses a local admin one): "
                           "`./robson token create --scope read` prints one; docs at <url>/docs.")
        return True

    def watch(self, parent: int) -> int:
        assert self.platform is not None
        self.reported = reported = self.feed_mode not in ("replay", "synthetic") or "signal" not in self.platform.urls
        while True:
            for running in self.platform.services:
                if running.process and running.process.poll() is not None:
                    self.console.print(f"[red]{running.definition.name} exited "
                                       f"({running.process.returncode}); see {running.log_path}[/red]")
                    return 1
            if os.getppid() != parent:
                self.console.print("the parent process went away: stopping…")
                return 0
            if not reported and (outcome := self.replay_outcome()) is not None:
                self.reported = reported = True
                if self.exit_after_replay:
                    return outcome
            time.sleep(0.5)

    def replay_outcome(self) -> int | None:
        """None while the feed runs; once finished and drained, the report (0) or the failure (1)."""
        assert self.platform is not None
        urls = self.platform.urls
        with Services(urls) as services:
            feed = services["signal"].get("/feed")
            if feed.get("state") == "failed":
                self.console.print(f"[red]the feed failed: {feed.get('error')}[/red]")
                return 1
            if not feed.get("finished"):
                return None
            with self.console.status("replay finished; waiting for the pipeline to drain…"):
                wait_drained(self.platform.infra.nats_url, urls)
            assert self.run_info is not None
            report = build_report(services, self.config, services["signal"].get("/feed"), self.run_info.run_id)
        paths = write_report(report, data_dir() / "reports")
        self.print_report(report, paths)
        self.write_run_file(replay_finished=True, report=str(paths[0]))
        return 0

    def report_on_stop(self) -> None:
        """An endless run (live demo, Binance) or an unfinished replay: its report so far."""
        if self.reported or self.platform is None or self.run_info is None or self.feed_mode == "none":
            return
        urls = self.platform.urls
        if not {"signal", "position", "paper"} <= set(urls):
            return
        try:
            with Services(urls) as services:
                report = build_report(services, self.config, services["signal"].get("/feed"),
                                      self.run_info.run_id)
            paths = write_report(report, data_dir() / "reports")
            self.print_report(report, paths)
        except (ServiceError, OSError) as exc:
            self.console.print(f"[yellow]no report: {escape(str(exc))}[/yellow]")

    def print_report(self, report: dict[str, Any], paths: list[Path]) -> None:
        period = report["period"]
        self.console.print(
            f"[bold]Run {report['run_id']}[/bold]: {when(period['start'])} → {when(period['end'])}; "
            f"equity {money(report['start_equity'])} → {money(report['end_equity'])} "
            f"(return {pct(report['return_pct'], scaled=True)}, max drawdown "
            f"{pct(report['max_drawdown_pct'], scaled=True)}); {report['trade_count']} trades, "
            f"{report['open_positions']} open")
        table = Table(title="Per symbol and exit reason")
        for column in ("", "trades", "wins", "losses", "P&L"):
            table.add_column(column, justify="right" if column else "left")
        for key in ("by_symbol", "by_exit_reason"):
            for name, row in report[key].items():
                table.add_row(name, str(row["trades"]), str(row["wins"]), str(row["losses"]), money(row["pnl"]))
        self.console.print(table)
        self.console.print(f"report written to {', '.join(str(p) for p in paths)}")
