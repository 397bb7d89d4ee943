"""SIGTERM stops a service (its consumers, relay and outbox flush) within the pod's grace
period even while a client holds a streaming response open (the dashboard's /api/stream in a
browser tab, position's /stream): uvicorn waits for open connections unless bounded."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from robson_kit.embedded import free_port

from .conftest import sample_env

STREAM_SERVICE = '''
import asyncio
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from robson_kit.auth.guard import open_route
from sampleapp.app import SampleSettings, build

router = APIRouter()

@router.get("/stream")
@open_route
async def stream() -> StreamingResponse:
    async def events():
        yield b"retry: 1000\\n\\n"
        while True:
            await asyncio.sleep(1)
            yield b": keepalive\\n\\n"
    return StreamingResponse(events(), media_type="text/event-stream")

service = build(SampleSettings())
service.routers.append(router)
service.run()
'''


async def test_sigterm_stops_the_service_although_a_stream_is_open(
    nats_url: str, database_url: str, schema: str, tmp_path: Path,
) -> None:
    script = tmp_path / "stream_service.py"
    script.write_text(STREAM_SERVICE)
    port = free_port()
    env = {**os.environ, **sample_env(nats_url, database_url, schema),
           "ROBSON_SAMPLE_HTTP_PORT": str(port), "ROBSON_SAMPLE_LOG_JSON": "false"}
    proc = subprocess.Popen(  # noqa: ASYNC220 (started once; waited for in a thread)
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            async with http.stream("GET", f"http://127.0.0.1:{port}/stream") as response:
                assert response.status_code == 200
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(proc.wait, 30)  # the chart's grace period
                except subprocess.TimeoutExpired:
                    pass
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate()[0]
    assert "service.stopped" in out, f"not stopped gracefully within 30 s of SIGTERM:\n{out[-1500:]}"
