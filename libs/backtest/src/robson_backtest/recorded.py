"""Recorded LLM answers in: the model calls a live or paper run made (decision's ``model_calls``
rows, as ``GET /model-calls`` or ``robson model-calls --json`` return them), so an LLM trader is
backtested from its answers without calling any model. A JSON array or JSON lines; each row
needs ``prompt_hash`` and ``status`` (and ``raw_answer`` for an OK call, ``error`` for a failed
one; ``decision_id`` when present tells apart the answers to one prompt asked twice); other
columns are kept and ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robson_backtest.data import DataError

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_ROWS = 1_000_000


class RecordedCall(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    prompt_hash: str = Field(min_length=1, max_length=128)
    status: str = Field(min_length=1, max_length=32)
    raw_answer: str | None = Field(None, max_length=256 * 1024)
    error: str | None = Field(None, max_length=16 * 1024)
    decision_id: str | None = Field(None, max_length=64)
    """Whose call it was: a prompt asked for several decisions replays each its own answer."""


def load_recorded_calls(path: Path) -> tuple[dict[str, Any], ...]:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path}: {size:,} bytes, more than the {MAX_FILE_BYTES:,} accepted")
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
        numbered = list(enumerate(items, start=1))
        where = "item"
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    numbered.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{number}: not JSON: {exc.msg}") from None
        where = "line"
    if len(numbered) > MAX_ROWS:
        raise DataError(f"{path}: {len(numbered):,} rows, more than the {MAX_ROWS:,} accepted")
    return tuple(_row(path, where, n, item) for n, item in numbered)


def _row(path: Path, where: str, number: int, item: Any) -> dict[str, Any]:
    try:
        return RecordedCall.model_validate(item).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "row"
        raise DataError(f"{path}: {where} {number}: {field}: {first['msg']}") from None
