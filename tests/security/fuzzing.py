"""Requests the fuzzer sent, per service (printed at the end of the session)."""

from __future__ import annotations

from collections import Counter

SENT: Counter[str] = Counter()
FAILED: Counter[str] = Counter()
