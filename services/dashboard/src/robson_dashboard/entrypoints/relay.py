"""Passing a service's answer back to the browser unchanged (status and JSON body), so a 422
with the validation layer's violations reaches the page as the service wrote it."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response

from robson_dashboard.adapters.upstream import Upstreams, UpstreamUnavailable


async def relay(upstreams: Upstreams, service: str, method: str, path: str, token: str | None, *,
                params: Any = None, body: Any = None) -> Response:
    try:
        response = await upstreams.call(service, method, path, token, params=params, body=body)
    except UpstreamUnavailable as exc:
        raise HTTPException(502, str(exc)) from exc
    try:
        content = response.json()
    except ValueError:
        content = {"detail": response.text[:2000]}
    return JSONResponse(content, status_code=response.status_code)
