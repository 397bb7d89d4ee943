"""`robson notify test CHANNEL` and `robson notifications`: the notify service's channels and
deliveries."""

from __future__ import annotations

from typing import Annotated

import typer

from robson_cli.commands.common import (
    JsonFlag,
    Limit,
    console,
    fail,
    print_json,
    service_errors,
    services,
    table,
)

notify_app = typer.Typer(help="Notification channels: `robson notify test CHANNEL`.",
                         no_args_is_help=True)
app = typer.Typer()


@notify_app.command("test")
@service_errors
def test_channel(channel: Annotated[str, typer.Argument(help="a channel of notifications:")],
                 as_json: JsonFlag = False) -> None:
    """Send a test message to one channel and report the outcome."""
    with services() as svc:
        row = svc["notify"].post(f"/channels/{channel}/test")
    if as_json:
        return print_json(row)
    if row["status"] == "DELIVERED":
        console.print(f"[green]delivered[/green] to {channel} (attempt {row['attempts']})")
        return
    fail(f"{channel}: {row['status']} after {row['attempts']} attempt(s): "
         f"{row['last_error'] or 'no answer yet'}")
    raise typer.Exit(1)


@app.command()
@service_errors
def notifications(
    failed: Annotated[bool, typer.Option("--failed", help="only deliveries that failed")] = False,
    channel: Annotated[str | None, typer.Option(help="only this channel")] = None,
    account: Annotated[str | None, typer.Option("--account", "-a", help="account id")] = None,
    limit: Limit = 50, as_json: JsonFlag = False,
) -> None:
    """Recent notification deliveries with their status and attempts, newest first."""
    with services() as svc:
        rows = svc["notify"].get("/deliveries", {"failed": failed or None, "channel": channel,
                                                 "account_id": account, "limit": limit})
    if as_json:
        return print_json(rows)
    console.print(table(f"notifications ({len(rows)})", (
        "created", "channel", "kind", "severity", "account", "status", "tries", "title", "error"), (
        (r["created_at"], r["channel"], r["kind"], r["severity"], r["account_id"] or "",
         r["status"], r["attempts"], r["title"][:60], (r["last_error"] or "")[:60])
        for r in rows)))
