"""`robson token create|revoke`: API tokens signed with the platform's key; a revocation is
written to the `robson_revoked` bucket on NATS, which every service watches."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import timedelta
from typing import Annotated

import jwt
import nats
import typer
from robson_kit.auth import keys, tokens
from robson_kit.auth.revocation import revoke as revoke_jti

from robson_cli.auth import signing_key_path
from robson_cli.client import read_run_file
from robson_cli.commands.common import err_console, fail
from robson_cli.launcher import run_file

app = typer.Typer(help="API tokens: create and revoke.", no_args_is_help=True)
TTL = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> timedelta:
    match = TTL.match(text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r}: use a number and s, m, h or d (e.g. 12h, 30d)")
    try:
        ttl = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        ttl = tokens.MAX_TTL + timedelta(seconds=1)  # far beyond the limit: refused below
    if not timedelta(0) < ttl <= tokens.MAX_TTL:
        raise typer.BadParameter(f"{text!r}: between 1s and {tokens.MAX_TTL.days}d")
    return ttl


@app.command()
def create(
    scope: Annotated[str, typer.Option(help="read, trade or admin (admin ⊃ trade ⊃ read)")],
    account: Annotated[list[str] | None, typer.Option(
        help="an account the token may see and touch (repeat; default: all accounts)")] = None,
    ttl: Annotated[str, typer.Option(help="lifetime, e.g. 15m, 12h, 30d")] = "12h",
    subject: Annotated[str, typer.Option(help="who the token is for (recorded in audit rows)")] = "operator",
) -> None:
    """Print a new token (stdout) and its id and expiry (stderr)."""
    if scope not in ("read", "trade", "admin"):
        raise typer.BadParameter(f"{scope!r}: read, trade or admin", param_hint="--scope")
    path = signing_key_path()
    if not path.is_file():
        fail(f"no signing key at {path} (it is created by `robson up`; or set ROBSON_AUTH_SIGNING_KEY_FILE)")
        raise typer.Exit(1)
    value = tokens.mint(keys.load_private(path), subject, [scope], account or None, parse_ttl(ttl))
    claims = tokens.unverified_claims(value)
    err_console.print(f"token id (jti) {claims['jti']}, scope {scope}, accounts "
                      f"{','.join(claims['accounts'])}, expires {claims['exp']} (unix time)")
    print(value)


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="the token's jti (or the token itself)")],
) -> None:
    """Refuse this token in every service from now on (kept across restarts)."""
    try:
        jti = tokens.unverified_claims(token_id)["jti"] if token_id.count(".") == 2 else token_id
    except (jwt.PyJWTError, KeyError, TypeError):
        fail(f"{token_id!r} is neither a token id (jti) nor a token carrying one")
        raise typer.Exit(2) from None
    url = os.environ.get("NATS_URL") or (read_run_file(run_file()) or {}).get("nats_url")
    if not url:
        fail("Robson is not running and NATS_URL is not set: nowhere to record the revocation")
        raise typer.Exit(1)
    try:
        asyncio.run(_revoke(url, jti))
    except ValueError as exc:
        fail(str(exc))
        raise typer.Exit(2) from None
    print(json.dumps({"revoked": jti}))


async def _revoke(url: str, jti: str) -> None:
    nc = await nats.connect(url, name="robson-cli-revoke", connect_timeout=5, max_reconnect_attempts=1)
    try:
        await revoke_jti(nc.jetstream(), jti, by="robson token revoke")
    finally:
        await nc.close()
