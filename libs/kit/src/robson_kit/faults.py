"""Fault-injection points for crash tests.

``ROBSON_FAULTS=outbox.after_publish`` makes the process kill itself (SIGKILL, no cleanup)
the first time it reaches that point: a real crash, not an exception.

``ROBSON_FAULTS=batch.before_commit:stop`` makes it stop itself (SIGSTOP) there instead, the
first time only: frozen as by a VM pause or a long GC or swap stall, its connections and open
transaction left as they are, until something sends it SIGCONT; it then goes on from the point.

``ROBSON_FAULTS=commit.landed:cut`` raises ``ConnectionResetError`` there, the first time only:
what the driver raises when the server closed the connection after a COMMIT it carried out
(a failover's ``pg_terminate_backend``), so the process cannot know whether it landed.
``batch.committed:cut`` does so for the first consumer batch that committed with in-memory
effects still to run (``after_commit``).
``:kill`` is the default. Several points are separated by commas.

Armed for one life of the process: a service that starts itself again
(``Service.restart``) does so without them. Unset in production, where a point costs one dict
lookup.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "ROBSON_FAULTS"
_CUT = "cut"
_ACTIONS: dict[str, signal.Signals | str] = {"kill": signal.SIGKILL, "stop": signal.SIGSTOP,
                                             _CUT: _CUT}
_ONCE = (signal.SIGSTOP, _CUT)
"""Actions after which the process goes on: they fire the first time only."""


def _armed(spec: str) -> dict[str, signal.Signals | str]:
    """``point[:action]`` entries, comma-separated → what each point does."""
    armed: dict[str, signal.Signals | str] = {}
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        name, _, action = entry.partition(":")
        if (action or "kill") not in _ACTIONS:
            raise ValueError(f"{VARIABLE}: unknown action {action!r} in {entry!r} "
                             f"(one of {', '.join(_ACTIONS)})")
        armed[name.strip()] = _ACTIONS[action or "kill"]
    return armed


_ARMED = _armed(os.environ.get(VARIABLE, ""))


def armed(name: str) -> bool:
    return name in _ARMED


def point(name: str) -> None:
    action = _ARMED.get(name)
    if action is None:
        return
    if action in _ONCE:
        del _ARMED[name]  # once: the process goes on
    if action == _CUT:
        raise ConnectionResetError(f"fault {name}: the connection was closed after COMMIT")
    os.kill(os.getpid(), action)  # type: ignore[arg-type]
