"""Build step of the front end: the one third-party asset, lightweight-charts' standalone
build, pinned with its integrity hash in ``web/package-lock.json``.

With npm on PATH, ``npm ci`` installs it (the ordinary client); without Node, the same tarball
is fetched from the npm registry over HTTPS and checked against the lock's sha512 integrity.
Either way the file lands in ``web/vendor/`` (not committed), once. Run it by hand with
``uv run python -m robson_dashboard.assets``; the dashboard runs it at start-up."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx

PACKAGE = "lightweight-charts"
FILE = "lightweight-charts.standalone.production.js"
REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")


def vendor_file(web_dir: Path) -> Path:
    return web_dir / "vendor" / FILE


def locked(web_dir: Path) -> tuple[str, str]:
    """(version, integrity) of the package as the lock pins it."""
    lock = json.loads((web_dir / "package-lock.json").read_text())
    entry = lock["packages"][f"node_modules/{PACKAGE}"]
    return entry["version"], entry["integrity"]


def _with_npm(web_dir: Path) -> bytes | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=web_dir,
                          capture_output=True, timeout=300)
    built = web_dir / "node_modules" / PACKAGE / "dist" / FILE
    return built.read_bytes() if done.returncode == 0 and built.is_file() else None


def _from_registry(web_dir: Path) -> bytes:
    version, integrity = locked(web_dir)
    algorithm, _, expected = integrity.partition("-")
    url = f"{REGISTRY}/{PACKAGE}/-/{PACKAGE}-{version}.tgz"
    tarball = httpx.get(url, timeout=60, follow_redirects=True).raise_for_status().content
    digest = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if digest != expected:
        raise RuntimeError(f"{url}: integrity {algorithm}-{digest} is not the lock's {integrity}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.extractfile(f"package/dist/{FILE}")
        if member is None:
            raise RuntimeError(f"{url} has no dist/{FILE}")
        return member.read()


def build(web_dir: Path) -> Path:
    """Puts the library in ``web/vendor`` unless it is there; returns its path."""
    target = vendor_file(web_dir)
    if target.is_file():
        return target
    content = _with_npm(web_dir) or _from_registry(web_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(content)
    partial.replace(target)
    return target


async def ensure_vendor(web_dir: Path) -> Path | None:
    """At start-up: build if needed; offline without it the chart page says what to run."""
    from robson_kit import logs

    try:
        return await asyncio.to_thread(build, web_dir)
    except (OSError, RuntimeError, httpx.HTTPError, subprocess.SubprocessError, KeyError) as exc:
        logs.get_logger(__name__).warning("dashboard.assets_unavailable", error=str(exc),
                                          hint="uv run python -m robson_dashboard.assets")
        return None


if __name__ == "__main__":
    from robson_dashboard.settings import WEB_DIR

    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else WEB_DIR))
