"""Shared by the operator commands: find the running platform, print tables or JSON, turn a
service's error into its message in red and exit code 1."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from robson_cli.client import ServiceError, Services, read_run_file
from robson_cli.launcher import run_file
from robson_cli.report import cell

console = Console()
err_console = Console(stderr=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]
F = TypeVar("F", bound=Callable[..., Any])


def running() -> dict[str, Any]:
    """The run file of the platform `robson up` started, or exit 1 saying it is not running."""
    doc = read_run_file(run_file())
    if doc is None:
        err_console.print(f"[red]Robson is not running (no {run_file()}). Start it with `make run`.[/red]")
        raise typer.Exit(1)
    return doc


def services() -> Services:
    return Services({name: svc["url"] for name, svc in running()["services"].items()})


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


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    out = Table(title=title)
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*(cell(v) for v in row))
    return out


def pnl(value: Any) -> str:
    """A money amount coloured by its sign."""
    if value in (None, ""):
        return "—"
    text = str(value)
    return f"[red]{text}[/red]" if text.startswith("-") else f"[green]{text}[/green]"
