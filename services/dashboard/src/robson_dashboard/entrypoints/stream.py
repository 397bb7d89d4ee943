"""``GET /api/stream``: Server-Sent Events for the signed-in browser (snapshot, then marks,
position changes, ticks and refresh hints)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from robson_dashboard.adapters.hub import Client, Hub
from robson_dashboard.entrypoints.auth import SessionDep
from robson_dashboard.runtime import RuntimeDep

router = APIRouter(prefix="/api", tags=["dashboard stream"])
KEEPALIVE_SECONDS = 15.0


@router.get("/stream")
async def stream(request: Request, session: SessionDep, runtime: RuntimeDep) -> StreamingResponse:
    client = await runtime.hub.connect(session.token)
    if client is None:
        raise HTTPException(429, "too many live streams open; close a tab and retry")
    def signed_in() -> bool:  # signed out or expired since: the stream ends
        return runtime.sessions.get(session.session_id) is not None

    return StreamingResponse(_events(runtime.hub, client, request, signed_in), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _events(hub: Hub, client: Client, request: Request,
                  signed_in: Callable[[], bool]) -> AsyncIterator[bytes]:
    try:
        yield b"retry: 1000\n\n"
        while True:
            try:
                item = await asyncio.wait_for(client.queue.get(), KEEPALIVE_SECONDS)
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
