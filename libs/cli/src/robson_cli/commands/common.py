"""Shared by the operator commands: find the running platform, print tables or JSON, turn a
service's error into its message in red and exit code 1."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from robson_cli.client import ServiceError, Services, read_run_file
from robson_cli.fmt import money
from robson_cli.launcher import run_file
from robson_cli.remote import TargetError, remote
from robson_cli.report import cell

# Piped or redirected output is never cut to 80 columns: tables keep every column whole.
console = Console() if sys.stdout.isatty() else Console(width=100_000, no_color=True)
err_console = Console(stderr=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]
LIMIT_MAX = 500
Limit = Annotated[int, typer.Option(min=1, max=LIMIT_MAX, help=f"at most this many rows, newest first (1–{LIMIT_MAX})")]
F = TypeVar("F", bound=Callable[..., Any])


def running() -> dict[str, Any]:
    """The run file of the platform `robson up` started, or exit 1 saying it is not running.
    With remote services (--url, a profile, ROBSON_URL): what the run file would say."""
    target = _remote()
    if target is not None:
        return {"services": {name: {"url": url, "pid": None} for name, url in target[0].items()},
                "remote": True}
    doc = read_run_file(run_file())
    if doc is None:
        err_console.print(f"[red]Robson is not running (no {run_file()}). Start it with `make run`.[/red]")
        raise typer.Exit(1)
    return doc


def _remote() -> tuple[dict[str, str], str | None] | None:
    try:
        return remote()
    except TargetError as exc:
        fail(str(exc))
        raise typer.Exit(2) from None


def services() -> Services:
    target = _remote()
    if target is not None:
        return Services(*target)
    return Services({name: svc["url"] for name, svc in running()["services"].items()},
                    os.environ.get("ROBSON_TOKEN"))


def service_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ServiceError as exc:
            fail(str(exc))
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def fail(message: str) -> None:
    """A message in red on stderr, unwrapped and with no markup read from it."""
    err_console.print(f"[red]{escape(message)}[/red]", soft_wrap=True)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
          right: Sequence[str] = ()) -> Table:
    out = Table(title=title)
    for column in columns:
        out.add_column(column, justify="right" if column in right else "left", overflow="fold")
    for row in rows:
        out.add_row(*(cell(v) for v in row))
    return out


def pnl(value: Any) -> str:
    """A money amount to the cent, coloured by its sign."""
    if value in (None, ""):
        return "—"
    text = money(value)
    return f"[red]{text}[/red]" if text.startswith("-") else f"[green]{text}[/green]"


def not_found(what: str) -> None:
    """An unknown id, status or trader: an error (exit 1), never an empty table."""
    fail(what)
    raise typer.Exit(1)
