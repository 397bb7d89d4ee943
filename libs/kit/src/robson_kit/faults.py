"""Fault-injection points for crash tests.

``ROBSON_FAULTS=outbox.after_publish`` makes the process kill itself (SIGKILL, no cleanup)
the first time it reaches that point: a real crash, not an exception. Unset in production,
where a point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_ARMED = {p.strip() for p in os.environ.get("ROBSON_FAULTS", "").split(",") if p.strip()}


def point(name: str) -> None:
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
