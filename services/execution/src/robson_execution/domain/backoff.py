"""Retry delays: exponential with full jitter (the random source is injected for tests)."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 10.0,
                  uniform: Callable[[float, float], float] = random.uniform) -> float:
    """Delay before retry number ``attempt`` (1-based)."""
    return uniform(0.0, min(cap, base * 2 ** max(0, attempt - 1)))
