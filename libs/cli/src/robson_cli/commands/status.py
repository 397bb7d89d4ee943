"""`robson status`: each service's URL, process id and health, the feed (mode, state, lag,
whether a replay finished) and the accounts' equity on paper."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import typer

from robson_cli.client import ServiceError, Services, read_run_file
from robson_cli.commands.common import JsonFlag, _remote, console, print_json, table
from robson_cli.commands.common import running as remote_or_local
from robson_cli.fmt import amount, money, seconds, when
from robson_cli.launcher import run_file
from robson_cli.report import latest_event

app = typer.Typer()


def _health(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(f"{url}/readyz", timeout=3)
    except httpx.HTTPError as exc:
        return {"health": f"unreachable ({type(exc).__name__})"}
    try:
        checks = response.json().get("checks", {})
    except (ValueError, AttributeError):
        checks = {}
    return {"health": "ready" if response.status_code == 200 else "not ready", "checks": checks}


def _feed(svc: Services, doc: dict[str, Any]) -> dict[str, Any]:
    feed = dict(doc.get("feed") or {})
    if "signal" not in doc["services"]:
        return feed
    try:
        live = svc["signal"].get("/feed")
    except ServiceError as exc:
        return feed | {"error": str(exc)}
    finished = bool(live.get("finished"))
    return feed | {"state": live.get("state"), "lag_seconds": live.get("lag_seconds"),
                   "finished": finished, "replay_finished": finished and feed.get("mode") == "replay",
                   "candles": live.get("candles"), "signals": live.get("signals"),
                   "last_event_time": latest_event(live), "feed_error": live.get("error")}


def _accounts(svc: Services, doc: dict[str, Any]) -> list[dict[str, Any]] | dict[str, str]:
    if "paper" not in doc["services"]:
        return []
    try:
        return [{"account_id": a["account_id"], "equity": a["equity"], "balances": a["balances"]}
                for a in svc["paper"].get("/accounts")]
    except ServiceError as exc:
        return {"error": str(exc)}


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """Health of every running service, the feed, and the accounts' equity."""
    target = _remote()  # --url, --profile, ROBSON_URL, ROBSON_PROFILE or the default profile
    doc = remote_or_local() if target is not None else read_run_file(run_file())
    if doc is None:
        if as_json:
            print(json.dumps({"running": False}))
        else:
            console.print("Robson is not running (no .data/run.json). Start it with `make run`.")
        raise typer.Exit(1)
    for svc in doc["services"].values():
        svc.update(_health(svc["url"]))
    token = target[1] if target is not None else os.environ.get("ROBSON_TOKEN")
    with Services({n: s["url"] for n, s in doc["services"].items()}, token) as svc:
        doc["feed"] = _feed(svc, doc)
        doc["accounts_equity"] = _accounts(svc, doc)
    doc["running"] = True
    if as_json:
        return print_json(doc)
    _render(doc)


def _render(doc: dict[str, Any]) -> None:
    feed = doc["feed"]
    console.print(table(f"Robson — NATS {doc.get('nats_url', 'remote')}", ("service", "url", "pid", "health"), (
        (n, s["url"], s["pid"], f"[{'green' if s['health'] == 'ready' else 'red'}]{s['health']}[/]")
        for n, s in doc["services"].items())))
    finished = " — [bold]replay finished[/bold]" if feed.get("replay_finished") else ""
    # A replay's or a synthetic market's event time is not the wall clock: its "lag" means nothing.
    realtime = feed.get("mode") == "binance" or feed.get("realtime")
    timing = (f"lag {seconds(feed.get('lag_seconds'))}" if realtime
              else f"event time {when(feed.get('last_event_time'))}")
    console.print(f"[bold yellow]FEED {str(feed.get('mode', '?')).upper()}[/bold yellow] "
                  f"state {feed.get('state')} · {timing} · "
                  f"{feed.get('candles')} candles · {feed.get('signals')} signals{finished}")
    if feed.get("feed_error"):
        console.print(f"[red]feed error: {feed['feed_error']}[/red]")
    accounts = doc["accounts_equity"]
    if isinstance(accounts, dict):
        console.print(f"[red]{accounts['error']}[/red]")
        return
    console.print(table("accounts (paper)", ("account", "equity", "asset", "free", "locked", "borrowed"), (
        (a["account_id"] if i == 0 else "", money(a["equity"]) if i == 0 else "", b["asset"],
         amount(b["free"]), amount(b.get("locked")), amount(b.get("borrowed")))
        for a in accounts for i, b in enumerate(a["balances"] or [{"asset": "—", "free": None}])),
        right=("equity", "free", "locked", "borrowed")))
