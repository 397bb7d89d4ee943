"""Operator verbs beyond close/pause: unlock an account at the gate, approve or reject a trade
decision waiting for a human, apply robson.yaml to running (or remote) services."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

from robson_cli.client import ServiceError
from robson_cli.commands.common import console, fail, service_errors, services
from robson_cli.config import ConfigError, apply_config, load_config
from robson_cli.remote import TARGET, TargetError, service_urls

app = typer.Typer()
Note = Annotated[str, typer.Option("--note", "-n", help="why (kept in the service's audit log)")]


@app.command()
@service_errors
def unlock(account: str, lockout: Annotated[str | None, typer.Option(
        help="clear only this lockout id (default: the kill switch and every lockout)")] = None,
           note: Note = "robson unlock") -> None:
    """Clear an account's kill switch and lockouts at the entry gate."""
    with services() as svc:
        result = svc["entry_gate"].post(f"/accounts/{account}/unlock", {"note": note, "lockout_id": lockout})
    cleared = result.get("cleared")
    console.print(f"account {account}: " + (f"cleared {cleared}" if cleared else "nothing was locked"))


@app.command()
@service_errors
def approve(decision_id: str) -> None:
    """Approve a trade decision waiting for a human (trader decision mode: approval)."""
    with services() as svc:
        result = svc["decision"].post(f"/approvals/{decision_id}/approve", {"by": "cli"})
    console.print(f"decision {decision_id}: [green]{result['status']}[/green]")


@app.command()
@service_errors
def reject(decision_id: str, note: Note = "") -> None:
    """Reject a trade decision waiting for a human."""
    with services() as svc:
        result = svc["decision"].post(f"/approvals/{decision_id}/reject", {"by": "cli", "reason": note})
    console.print(f"decision {decision_id}: [yellow]{result['status']}[/yellow]")


@app.command("apply")
def apply_cmd(
    config: Annotated[Path, typer.Option(help="robson.yaml / .toml to apply")] = Path("robson.yaml"),
    url: Annotated[list[str] | None, typer.Option(
        help="a service: NAME=URL (repeat), or a base URL for all (default: the global --url, "
             "profile, or the local run)")] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for every service to be ready")] = 0,
) -> None:
    """Apply a configuration to running services (declarative: traders left out are disabled).
    Exit 2 when the file is invalid, 1 when a service refuses or is unreachable."""
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        fail(f"invalid configuration, nothing applied:\n{exc}")
        raise typer.Exit(2) from None
    if url:
        try:
            TARGET.urls = list(url)
            service_urls(TARGET.urls)
        except TargetError as exc:
            fail(str(exc))
            raise typer.Exit(2) from None
    with services() as svc:
        urls, token = svc.urls, svc.token
    try:
        _wait_ready(urls, wait)
        done = apply_config(loaded, urls, token=token)
    except (ServiceError, TimeoutError) as exc:
        fail(f"configuration refused or not applied: {exc}")
        raise typer.Exit(1) from None
    for line in done or ["configuration already in place: nothing to change"]:
        console.print(f"  [cyan]config[/cyan] {line}")


def _wait_ready(urls: dict[str, str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for name, base in urls.items():
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=3).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                if seconds:
                    raise TimeoutError(f"{name} at {base} not ready after {seconds:.0f}s")
                break
            time.sleep(2)
