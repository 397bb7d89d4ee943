"""The overview in one call (every service asked at once, each answer or its failure named),
and the backtest reports found under ``.data/backtests``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from robson_dashboard.adapters.upstream import Upstreams, UpstreamUnavailable
from robson_dashboard.domain import figures

MAX_REPORT_BYTES = 5_000_000


async def _readiness(upstreams: Upstreams, name: str) -> dict[str, Any]:
    try:
        response = await upstreams.call(name, "GET", "/readyz", None)
        checks = response.json()
    except (UpstreamUnavailable, ValueError) as exc:
        return {"name": name, "ready": False, "detail": str(exc)}
    return {"name": name, "ready": response.status_code == 200, "detail": checks}


async def _safe(upstreams: Upstreams, service: str, path: str, token: str | None, **params: Any) -> Any:
    try:
        return await upstreams.get_json(service, path, token, **params)
    except UpstreamUnavailable:
        return None


async def _account(upstreams: Upstreams, token: str | None, account: dict[str, Any]) -> dict[str, Any]:
    account_id = account["account_id"]
    risk, performance, positions = await asyncio.gather(
        _safe(upstreams, "entry_gate", f"/accounts/{account_id}/risk", token),
        _safe(upstreams, "position", "/performance", token, account_id=account_id),
        _safe(upstreams, "position", "/positions", token, account_id=account_id, limit=5000))
    positions = positions or []
    start = figures.dec((account.get("starting_balances") or {}).get("USDT"))
    return {"account_id": account_id, "equity": account.get("equity"),
            "starting_capital": format(start, "f"), "balances": account.get("balances"),
            "risk": risk, "performance": performance,
            "open_risk": figures.open_risk(positions),
            "equity_curve": figures.equity_curve(start, positions)}


async def gather(upstreams: Upstreams, token: str | None) -> dict[str, Any]:
    names = list(upstreams.urls)
    health, feed, accounts = await asyncio.gather(
        asyncio.gather(*(_readiness(upstreams, n) for n in names)),
        _safe(upstreams, "signal", "/feed", token),
        _safe(upstreams, "paper", "/accounts", token))
    per_account = await asyncio.gather(*(_account(upstreams, token, a) for a in accounts or []))
    return {"generated_at": datetime.now(UTC).isoformat(), "services": list(health), "feed": feed,
            "accounts": list(per_account)}


def backtest_reports(directory: Path) -> list[dict[str, Any]]:
    if not directory.is_dir():
        return []
    found = sorted((p for p in directory.rglob("*.json") if p.is_file()),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    return [{"name": str(p.relative_to(directory)), "bytes": p.stat().st_size,
             "modified_at": datetime.fromtimestamp(p.stat().st_mtime, UTC).isoformat()}
            for p in found[:500]]


def backtest_report(directory: Path, name: str) -> JSONResponse:
    root = directory.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path.suffix != ".json" or not path.is_file():
        raise HTTPException(404, f"name: no backtest report {name}")
    if path.stat().st_size > MAX_REPORT_BYTES:
        raise HTTPException(413, f"name: {name} is over {MAX_REPORT_BYTES} bytes")
    try:
        return JSONResponse(json.loads(path.read_text()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(422, f"name: {name} is not JSON ({exc})") from exc
