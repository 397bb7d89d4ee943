"""The machine itself, so runs on a shared host can be compared: a fixed pure-Python workload
and a loopback TCP round trip between two processes (what every hop of the platform pays
several times). When these figures are slower than in another run, so is everything else, for
reasons that are not the code's."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import socket
import sys
import time

from bench.common import Metric, info, median

ROUND_TRIPS = 2000
WORK_RUNS = 7


def _echo(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := conn.recv(256):
        conn.sendall(data)


def loopback_round_trips(n: int = ROUND_TRIPS) -> list[float]:
    """Microseconds per 64-byte request/answer with an echo process over 127.0.0.1."""
    listener = socket.create_server(("127.0.0.1", 0))
    peer = multiprocessing.get_context("fork").Process(target=_echo, args=(listener,), daemon=True)
    peer.start()
    times: list[float] = []
    with socket.create_connection(listener.getsockname()) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        payload = b"x" * 64
        for _ in range(n):
            started = time.perf_counter()
            sock.sendall(payload)
            received = 0
            while received < len(payload):
                received += len(sock.recv(256))
            times.append((time.perf_counter() - started) * 1e6)
    peer.join(5)
    listener.close()
    return times


def python_work() -> float:
    """Milliseconds for a fixed mix of what the services do: build dicts, JSON round trips,
    string formatting, arithmetic."""
    started = time.perf_counter()
    total = 0
    for i in range(20_000):
        doc = {"id": i, "symbol": f"B{i % 10:02d}USDT", "price": str(100 + i % 7), "qty": i * 3}
        total += len(json.loads(json.dumps(doc))["symbol"]) + doc["qty"] % 11
    if total < 0:
        raise AssertionError("unreachable: keeps the loop from being optimised away")
    return (time.perf_counter() - started) * 1000


def run() -> list[Metric]:
    rtt = loopback_round_trips()
    work = [python_work() for _ in range(WORK_RUNS)]
    note = "compare with another run's figure: a slower host slows every other benchmark too"
    return [
        info("host.loopback_rtt_p50", median(rtt), "µs",
             f"64-byte TCP round trip between two processes over 127.0.0.1, {ROUND_TRIPS} "
             f"times; {note}"),
        info("host.python_work", median(work), "ms",
             f"fixed pure-Python workload (20k dict → JSON → dict), median of {WORK_RUNS}, on "
             f"Python {platform.python_version()} ({os.path.realpath(sys.executable)}: builds "
             f"of one version differ, see tools/pick_python.py); {note}"),
    ]
