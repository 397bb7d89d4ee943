"""`robson dlq list|show|replay|discard`: dead letters, read straight from the ROBSON_DLQ stream.

A dead letter's ID is its sequence in ROBSON_DLQ. ``replay`` publishes the original payload to
its original subject with a new ``Nats-Msg-Id`` (JetStream's duplicate window would drop the old
one) and the payload unchanged, so its ``message_id`` is too: a consumer that already processed
it drops it in its inbox, one that did not processes it once. The dead letter is then deleted.
An entry approval is never replayed: the gate releases a dead-lettered approval's risk, so a
replay could open a position no limit counts any more (it is discarded instead).
NATS is found through ``NATS_URL`` or the run file of `robson up`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import nats
import nats.errors
import typer
from nats.aio.client import Client
from nats.js.errors import NotFoundError
from robson_contracts import DeadLetter, DecodeError, decode
from robson_contracts import subjects as s
from robson_contracts.gate import entry_approval_in
from robson_contracts.registry import TYPE_HEADER
from robson_kit.deadletter import FIRST_FAILED_HEADER

from robson_cli.client import read_run_file
from robson_cli.commands.common import JsonFlag, console, fail, print_json, table
from robson_cli.launcher import run_file

app = typer.Typer(help="Dead letters: messages a service could not process, with the reason.",
                  no_args_is_help=True)
LetterId = Annotated[int, typer.Argument(help="the dead letter's ID (its ROBSON_DLQ sequence)")]
STREAM = s.DEAD_LETTERS.name
T = TypeVar("T")
DROPPED_ON_REPLAY = {"Nats-Msg-Id", FIRST_FAILED_HEADER, "Nats-Expected-Stream"}


def nats_url() -> str:
    url = os.environ.get("NATS_URL")
    if url:
        return url
    doc = read_run_file(run_file())
    if doc is None or not doc.get("nats_url"):
        fail(f"no NATS_URL and Robson is not running (no {run_file()}). Start it with `make run`.")
        raise typer.Exit(1)
    return str(doc["nats_url"])


def _with_nats(work: Callable[[Client], Awaitable[T]]) -> T:
    url = nats_url()

    async def run() -> T:
        nc = await nats.connect(url, name="robson-cli-dlq", connect_timeout=5, max_reconnect_attempts=1,
                                allow_reconnect=False, error_cb=_quiet)
        try:
            return await work(nc)
        finally:
            await nc.close()

    try:
        return asyncio.run(run())
    except (OSError, nats.errors.Error) as exc:
        fail(f"cannot reach NATS at {url}: {exc!r}")
        raise typer.Exit(1) from None


async def _quiet(_: Exception) -> None:
    """The failure is reported once, in red, instead of nats-py's tracebacks."""


def describe(seq: int, letter: DeadLetter) -> dict[str, Any]:
    """Everything an operator needs about one dead letter, payload decoded."""
    raw = base64.b64decode(letter.payload_b64)
    try:
        payload: Any = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode("utf-8", "replace")
    return {
        "id": seq,
        "service": letter.service,
        "consumer": letter.consumer,
        "subject": letter.subject,
        "reason_code": letter.reason_code,
        "reason": letter.reason,
        "first_failed_at": letter.headers.get(FIRST_FAILED_HEADER, letter.occurred_at.isoformat()),
        "last_failed_at": letter.occurred_at.isoformat(),
        "delivered_count": letter.delivered_count,
        "message_type": letter.headers.get(TYPE_HEADER, ""),
        "payload": payload,
    }


async def _get(nc: Client, seq: int) -> DeadLetter:
    try:
        raw = await nc.jetstream().get_msg(STREAM, seq)
    except NotFoundError:
        raise LookupError(f"no dead letter {seq}") from None
    try:
        return decode(raw.data or b"", (DeadLetter,))
    except DecodeError as exc:
        raise LookupError(f"entry {seq} is not a dead letter: {exc.reason}") from None


async def _list(nc: Client, limit: int, service: str | None) -> list[dict[str, Any]]:
    js = nc.jetstream()
    found: deque[dict[str, Any]] = deque(maxlen=limit)
    seq = 1
    while True:
        try:
            raw = await js.get_msg(STREAM, seq, subject=s.ALL_DEAD_LETTERS, next=True)
        except NotFoundError:
            return list(found)
        seq = (raw.seq or seq) + 1
        try:
            letter = decode(raw.data or b"", (DeadLetter,))
        except DecodeError:
            continue
        if service is None or letter.service == service:
            found.append(describe(raw.seq or 0, letter))


def _lookup(work: Callable[[Client], Awaitable[T]]) -> T:
    try:
        return _with_nats(work)
    except LookupError as exc:
        fail(str(exc))
        raise typer.Exit(1) from None


@app.command("list")
def list_letters(
    service: Annotated[str | None, typer.Option(help="only this service's")] = None,
    limit: Annotated[int, typer.Option(min=1, help="the newest N")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Dead letters, oldest first: service, consumer, reason, first/last failure."""
    letters = _with_nats(lambda nc: _list(nc, limit, service))
    if as_json:
        return print_json(letters)
    console.print(table(f"dead letters ({len(letters)})", (
        "id", "last failure", "service", "consumer", "subject", "reason code", "reason", "deliveries"), (
        (d["id"], d["last_failed_at"][:19], d["service"], d["consumer"], d["subject"],
         d["reason_code"], d["reason"][:80], d["delivered_count"]) for d in letters)))


@app.command()
def show(letter_id: LetterId, as_json: JsonFlag = False) -> None:
    """One dead letter in full, with its decoded payload."""
    letter = _lookup(lambda nc: _get(nc, letter_id))
    described = describe(letter_id, letter)
    if as_json:
        return print_json(described)
    for key, value in described.items():
        if key != "payload":
            console.print(f"[bold]{key}[/bold]: {value}", soft_wrap=True, markup=False)
    console.print("[bold]payload[/bold]:")
    print(json.dumps(described["payload"], indent=2, default=str))


async def _replay(nc: Client, seq: int) -> dict[str, Any]:
    letter = await _get(nc, seq)
    payload = base64.b64decode(letter.payload_b64)
    if not payload:
        raise LookupError(f"dead letter {seq} carries no payload ({letter.reason}); nothing to replay")
    refusal = _unreplayable(seq, letter)
    if refusal is not None:
        raise LookupError(refusal)
    headers = {k: v for k, v in letter.headers.items() if k not in DROPPED_ON_REPLAY}
    headers["Nats-Msg-Id"] = f"replay-{STREAM}-{seq}"
    js = nc.jetstream()
    ack = await js.publish(letter.subject, payload, headers=headers, timeout=5)
    await js.delete_msg(STREAM, seq)
    return {"id": seq, "replayed_to": letter.subject, "stream": ack.stream, "stream_seq": ack.seq}


def _unreplayable(seq: int, letter: DeadLetter) -> str | None:
    """Why this letter's payload must not go out again, if it must not. An approval whose
    consumer gave up on it has had its pending risk released by the gate (``entry_approval_in``
    is the gate's test too: the approval's consumer in position dead-letters it, and every
    consumer of the subject takes a replay): acted on now, it would open a position that the
    gate's limits no longer count."""
    approval = entry_approval_in(letter)
    if approval is None:
        return None
    return (f"dead letter {seq} is an entry approval ({approval.gate_decision_id}) and is not "
            "replayed: the gate released its risk when position gave up on it, so acting on it "
            "now could exceed the account's limits. Discard it (`robson dlq discard "
            f"{seq}`); the trader's next signal is judged afresh.")


@app.command()
def replay(letter_id: LetterId, as_json: JsonFlag = False) -> None:
    """Publish the original message again to its subject, then delete the dead letter."""
    done = _lookup(lambda nc: _replay(nc, letter_id))
    if as_json:
        return print_json(done)
    console.print(f"dead letter {letter_id} replayed to {done['replayed_to']} "
                  f"({done['stream']} #{done['stream_seq']}) and removed")


async def _discard(nc: Client, seq: int) -> dict[str, Any]:
    letter = await _get(nc, seq)
    await nc.jetstream().delete_msg(STREAM, seq)
    return {"id": seq, "discarded": True, "reason_code": letter.reason_code}


@app.command()
def discard(letter_id: LetterId, as_json: JsonFlag = False) -> None:
    """Delete a dead letter for good."""
    done = _lookup(lambda nc: _discard(nc, letter_id))
    if as_json:
        return print_json(done)
    console.print(f"dead letter {letter_id} discarded")
