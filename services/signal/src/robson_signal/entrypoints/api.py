"""HTTP API of signal: routes translate HTTP into a command or a query, nothing more."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["signal"])
