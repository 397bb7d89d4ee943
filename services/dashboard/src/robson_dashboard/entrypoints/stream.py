"""``GET /api/stream``: Server-Sent Events for the signed-in browser (snapshot, then marks,
position changes, ticks and refresh hints). It ends once its session is signed out or expired,
or its token is refused: revoked or expired (``Hub.guard``), or answered 401 by a service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from robson_dashboard.adapters.hub import Client, Hub
from robson_dashboard.adapters.upstream import TokenRefused
from robson_dashboard.entrypoints.auth import SessionDep
from robson_dashboard.runtime import RuntimeDep

router = APIRouter(prefix="/api", tags=["dashboard stream"])
KEEPALIVE_SECONDS = 15.0


@router.get("/stream")
async def stream(request: Request, session: SessionDep, runtime: RuntimeDep) -> StreamingResponse:
    try:
        client = await runtime.hub.connect(session.token, session.session_id)
    except TokenRefused as exc:
        raise HTTPException(401, "the services refused the token: sign in again") from exc
    if client is None:
        raise HTTPException(429, "too many live streams open; close a tab and retry")
    def signed_in() -> bool:  # signed out or expired since: the stream ends
        return runtime.sessions.get(session.session_id) is not None

    return StreamingResponse(_events(runtime.hub, client, request, signed_in, session.expires_at),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _events(hub: Hub, client: Client, request: Request, signed_in: Callable[[], bool],
                  expires_at: datetime) -> AsyncIterator[bytes]:
    try:
        yield b"retry: 1000\n\n"
        while True:
            # an idle stream wakes at the session's end too, not at the next keepalive
            wait = min(KEEPALIVE_SECONDS, (expires_at - datetime.now(UTC)).total_seconds())
            try:
                item = await asyncio.wait_for(client.queue.get(), max(0.0, wait))
            except TimeoutError:
                if not signed_in() or await request.is_disconnected():
                    return
                yield b": keepalive\n\n"
                continue
            if item is None or not signed_in():
                return
            kind, data = item
            yield f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
    finally:
        hub.disconnect(client)
