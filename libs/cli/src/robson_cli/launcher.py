"""`robson up`: embedded NATS + Postgres (or NATS_URL / DATABASE_URL), migrations, then every
service as its own process; Ctrl-C stops them all and the infrastructure, state stays in .data/."""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from robson_kit import migrations
from robson_kit.auth import keys
from robson_kit.auth.redact import redact_url
from robson_kit.embedded import Infrastructure, free_port

from robson_cli.auth import auth_dir, local_operator, service_token
from robson_cli.services import SERVICES, ServiceDef

# Importing pgserver asks platformdirs for a runtime dir the embedded Postgres never uses here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def data_dir() -> Path:
    return Path(os.environ.get("ROBSON_DATA_DIR", ".data")).resolve()


def run_file() -> Path:
    return data_dir() / "run.json"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


SERVICE_SCOPES = {"position": ["read"], "signal": ["read"], "dashboard": ["admin"]}
"""Services that call peers' APIs, and the scope their token gets (position reads the venues;
signal reads entry_gate's policies in a lockstep replay; the dashboard's "sign in as the local
operator", offered to loopback browsers only, acts as the operator, whom `robson up` serves as
admin)."""


def auth_env(svc: ServiceDef) -> dict[str, str]:
    """The public key for every service (created with the private one on first start, 0600);
    a service token of minimal scope for those that call peers."""
    _, public = keys.ensure_keypair(auth_dir())
    env = {"ROBSON_AUTH_PUBLIC_KEY_FILE": str(public)}
    if svc.name in SERVICE_SCOPES:
        person = local_operator() if svc.name == "dashboard" else None
        env[f"{svc.env_prefix}SERVICE_TOKEN"] = service_token(svc.name, SERVICE_SCOPES[svc.name], person)
    return env


def peer_urls(service: str, urls: dict[str, str]) -> dict[str, str]:
    """Services that call a peer's HTTP API learn where it runs (ports may not be defaults),
    from ``urls`` (each running service's): position reads paper's and execution's orders
    (start-up re-sync, stop watchdog), signal's lockstep replay asks the gate about accounts'
    loss watches, the dashboard's backend reads every other service's API."""
    prefix = f"ROBSON_{service.upper()}_"
    if service == "dashboard":
        return {f"{prefix}{name.upper()}_URL": url for name, url in urls.items() if name != "dashboard"}
    if service == "signal":
        return {f"{prefix}GATE_URL": url for name, url in urls.items() if name == "entry_gate"}
    if service != "position":
        return {}
    return {f"{prefix}{name.upper()}_URL": url for name, url in urls.items()
            if name in ("paper", "execution")}


@dataclass
class RunningService:
    definition: ServiceDef
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Platform:
    infra: Infrastructure
    services: list[RunningService] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def migrate(self) -> None:
        for svc in SERVICES:
            module = importlib.import_module(f"{svc.module}.main")
            migrations.upgrade(module.MIGRATIONS, self.infra.database_url, svc.name)

    def env_for(self, svc: ServiceDef, port: int) -> dict[str, str]:
        env = {
            **os.environ,
            "NATS_URL": self.infra.nats_url,
            "DATABASE_URL": self.infra.database_url,
            f"{svc.env_prefix}HTTP_PORT": str(port),
            f"{svc.env_prefix}RUN_MIGRATIONS": "false",
        }
        env.update(self.extra_env)
        env[f"{svc.env_prefix}HTTP_PORT"] = str(port)
        env.update(self._peer_urls(svc))
        env.update(auth_env(svc))
        env.pop("ROBSON_AUTH_PUBLIC_KEY", None)  # the file below is this platform's key
        return env

    def _peer_urls(self, svc: ServiceDef) -> dict[str, str]:
        return peer_urls(svc.name, {r.definition.name: r.url for r in self.services})

    def port_for(self, svc: ServiceDef) -> int:
        """``ROBSON_<SVC>_HTTP_PORT`` when set, else the default port when free, else any free one."""
        chosen = self.extra_env.get(f"{svc.env_prefix}HTTP_PORT") or os.environ.get(f"{svc.env_prefix}HTTP_PORT")
        if chosen:
            return int(chosen)
        return svc.default_port if port_is_free(svc.default_port) else free_port()

    def start_service(self, svc: ServiceDef) -> RunningService:
        port = self.port_for(svc)
        logs = data_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        running = RunningService(svc, port, logs / f"{svc.name}.log")
        log = open(running.log_path, "ab")  # noqa: SIM115
        running.process = subprocess.Popen(
            [sys.executable, "-m", svc.module], env=self.env_for(svc, port),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.services.append(running)
        return running

    def wait_ready(self, running: RunningService, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if running.process and running.process.poll() is not None:
                tail = running.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{running.definition.name} exited ({running.process.returncode}):\n{tail}")
            try:
                if httpx.get(f"{running.url}/readyz", timeout=2).status_code == 200:
                    self._check_identity(running)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{running.definition.name} not ready after {timeout:.0f}s; see {running.log_path}")

    @staticmethod
    def _check_identity(running: RunningService) -> None:
        """The port answered ready: make sure the service we started answered, not another
        process that held the port (ours then dies on its bind, after this check may have run)."""
        name = httpx.get(f"{running.url}/healthz", timeout=2).json().get("service")
        if name != running.definition.name:
            raise RuntimeError(f"port {running.port} is taken by {name or 'another program'}, so "
                               f"{running.definition.name} cannot serve there; set "
                               f"{running.definition.env_prefix}HTTP_PORT to a free port")

    @property
    def urls(self) -> dict[str, str]:
        return {r.definition.name: r.url for r in self.services}

    def write_run_file(self, feed: dict[str, object], **extra: object) -> None:
        doc = {
            "started_at": time.time(),
            "data_dir": str(data_dir()),
            "nats_url": redact_url(self.infra.nats_url),
            "database_url": redact_url(self.infra.database_url),
            "embedded": self.infra.embedded,
            "feed": feed,
            "launcher_pid": os.getpid(),
            **extra,
            "services": {
                r.definition.name: {"url": r.url, "pid": r.process.pid if r.process else None,
                                    "log": str(r.log_path)}
                for r in self.services
            },
        }
        run_file().write_text(json.dumps(doc, indent=2))

    def stop(self) -> None:
        """Services first (SIGTERM, then SIGKILL after 20 s), then NATS/Postgres; safe to repeat."""
        try:
            for running in reversed(self.services):
                if running.process and running.process.poll() is None:
                    running.process.send_signal(signal.SIGTERM)
            for running in reversed(self.services):
                if running.process:
                    try:
                        running.process.wait(20)
                    except subprocess.TimeoutExpired:
                        running.process.kill()
                        running.process.wait(10)
            self.services.clear()
        finally:
            try:
                self.infra.stop()
            finally:
                run_file().unlink(missing_ok=True)
