"""The front end: ``web/src`` (HTML, CSS, ES modules) and ``web/vendor`` (lightweight-charts,
fetched at build time), served from this one origin — nothing from a CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from robson_dashboard.runtime import RuntimeDep

router = APIRouter(tags=["dashboard web"], include_in_schema=False)
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".json": "application/json", ".png": "image/png",
         ".ico": "image/x-icon"}
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                      "style-src 'self' 'unsafe-inline'; connect-src 'self'; "
                                      "frame-ancestors 'none'"}


def _file(root: Path, relative: str) -> FileResponse:
    root = root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file() or path.suffix not in TYPES:
        raise HTTPException(404, f"no file {relative}")
    return FileResponse(path, media_type=TYPES[path.suffix], headers=HEADERS)


@router.get("/")
async def index(runtime: RuntimeDep) -> FileResponse:
    return _file(runtime.settings.web_dir / "src", "index.html")


@router.get("/favicon.ico")
async def favicon(runtime: RuntimeDep) -> FileResponse:
    return _file(runtime.settings.web_dir / "src", "favicon.svg")


@router.get("/static/{path:path}")
async def static(path: str, runtime: RuntimeDep) -> FileResponse:
    return _file(runtime.settings.web_dir / "src", path)


@router.get("/vendor/{path:path}")
async def vendor(path: str, runtime: RuntimeDep) -> FileResponse:
    return _file(runtime.settings.web_dir / "vendor", path)
