"""Which services the operator commands talk to: the local run (`.data/run.json`), or remote
ones: `--url BASE` (every service under BASE/<service>/, as the chart's Ingress exposes them),
`--url NAME=URL` (one service), or a profile in ~/.config/robson/profiles.yaml. The token is
ROBSON_TOKEN, else the profile's `token_file`.

profiles.yaml::

    default: prod
    profiles:
      prod: {url: https://robson.example.com, token_file: ~/.config/robson/prod.token}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from robson_cli.services import SERVICES


class TargetError(ValueError):
    """A --url, profile or token that cannot be used; the message says which and why."""


@dataclass
class Target:
    urls: list[str] = field(default_factory=list)
    profile: str | None = None


TARGET = Target()
"""Set once by the global options (`robson --url … --profile … <command>`)."""


def profiles_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "robson" / "profiles.yaml"


def load_profile(name: str | None) -> dict[str, Any] | None:
    path = profiles_file()
    if not path.is_file():
        if name:
            raise TargetError(f"--profile {name}: no {path}")
        return None
    doc = yaml.safe_load(path.read_text()) or {}
    chosen = name or os.environ.get("ROBSON_PROFILE") or doc.get("default")
    if not chosen:
        return None
    found = (doc.get("profiles") or {}).get(chosen)
    if not isinstance(found, dict) or not found.get("url"):
        raise TargetError(f"profile {chosen!r}: not in {path} (or it has no url)")
    return found


def service_urls(values: list[str]) -> dict[str, str]:
    """``NAME=URL`` for one service, or a base URL for every service under ``BASE/<name>``."""
    known = {s.name for s in SERVICES}
    out: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if sep and "://" not in name:
            if name not in known:
                raise TargetError(f"--url {value}: unknown service {name!r} (known: {', '.join(sorted(known))})")
            out[name] = url.rstrip("/")
        elif value.startswith(("http://", "https://")):
            base = value.rstrip("/")
            out |= {n: f"{base}/{n.replace('_', '-')}" for n in known if n not in out}
        else:
            raise TargetError(f"--url {value}: expected http(s)://… or SERVICE=http(s)://…")
    return out


def remote() -> tuple[dict[str, str], str | None] | None:
    """The remote services and token, or None for the local run."""
    values = list(TARGET.urls) or [u for u in [os.environ.get("ROBSON_URL", "")] if u]
    profile = None if values else load_profile(TARGET.profile)
    if profile:
        values = [profile["url"]]
    if not values:
        return None
    return service_urls(values), token(profile)


def token(profile: dict[str, Any] | None = None) -> str | None:
    if os.environ.get("ROBSON_TOKEN"):
        return os.environ["ROBSON_TOKEN"].strip()
    if profile and profile.get("token_file"):
        path = Path(str(profile["token_file"])).expanduser()
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise TargetError(f"token_file {path}: {exc.strerror}") from None
    return None
