"""Fault-injection points for crash tests.

``ROBSON_FAULTS=outbox.after_publish`` makes the process kill itself (SIGKILL, no cleanup)
the first time it reaches that point: a real crash, not an exception.

``ROBSON_FAULTS=batch.before_commit:stop`` makes it stop itself (SIGSTOP) there instead, the
first time only: frozen as by a VM pause or a long GC or swap stall, its connections and open
transaction left as they are, until something sends it SIGCONT; it then goes on from the point.
``:kill`` is the default. Several points are separated by commas.

Unset in production, where a point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

_ACTIONS = {"kill": signal.SIGKILL, "stop": signal.SIGSTOP}


def _armed(spec: str) -> dict[str, signal.Signals]:
    """``point[:action]`` entries, comma-separated → the signal each point sends."""
    armed: dict[str, signal.Signals] = {}
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        name, _, action = entry.partition(":")
        if (action or "kill") not in _ACTIONS:
            raise ValueError(f"ROBSON_FAULTS: unknown action {action!r} in {entry!r} "
                             f"(one of {', '.join(_ACTIONS)})")
        armed[name.strip()] = _ACTIONS[action or "kill"]
    return armed


_ARMED = _armed(os.environ.get("ROBSON_FAULTS", ""))


def point(name: str) -> None:
    sent = _ARMED.get(name)
    if sent is None:
        return
    if sent is signal.SIGSTOP:
        del _ARMED[name]  # once: woken, the process goes on
    os.kill(os.getpid(), sent)
