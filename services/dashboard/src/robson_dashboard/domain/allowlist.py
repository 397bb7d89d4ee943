"""Which of the services' read routes the browser may reach through the dashboard (GET only;
every change has its own route in ``entrypoints/actions.py``)."""

from __future__ import annotations

import re

_ID = r"[A-Za-z0-9_.:\-]{1,128}"
READABLE: dict[str, tuple[str, ...]] = {
    "position": (r"positions", rf"positions/{_ID}", rf"positions/{_ID}/modifications",
                 r"performance", r"journal", r"resync/last", rf"traders/{_ID}/policy",
                 rf"accounts/{_ID}"),
    "decision": (r"decisions", rf"decisions/{_ID}", r"approvals", rf"traders/{_ID}/settings",
                 r"model-calls"),
    "entry_gate": (r"decisions", rf"decisions/{_ID}", rf"accounts/{_ID}/risk", rf"policies/{_ID}",
                   rf"policies/{_ID}/traders/{_ID}"),
    "signal": (r"feed", r"candles", r"traders", rf"traders/{_ID}", r"signals", r"strategies",
               r"market-context"),
    "paper": (r"accounts", rf"accounts/{_ID}", rf"accounts/{_ID}/balances", r"orders", r"fills",
              r"symbols"),
    "execution": (r"accounts", rf"accounts/{_ID}", r"breakers"),
}
_COMPILED = {svc: tuple(re.compile(p) for p in paths) for svc, paths in READABLE.items()}


def readable(service: str, path: str) -> bool:
    return any(p.fullmatch(path) for p in _COMPILED.get(service, ()))
