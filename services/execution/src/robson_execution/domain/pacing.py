"""Request pacing from Binance's response headers (pure; time passed in as seconds).

Binance counts request weight per minute (``X-MBX-USED-WEIGHT-1M``) and orders per 10 s
(``X-MBX-ORDER-COUNT-10S``). We slow down as usage approaches a safety fraction of the limit,
and stop entirely until ``Retry-After`` after a 429 (rate limited) or 418 (IP banned).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RatePacer:
    weight_limit: int = 6000
    order_limit_10s: int = 100
    safety: float = 0.8
    used_weight: int = 0
    order_count_10s: int = 0
    banned_until: float = 0.0
    window_started: float = 0.0

    def observe(self, headers: dict[str, str], now: float) -> RatePacer:
        weight = _int(headers, "x-mbx-used-weight-1m")
        orders = _int(headers, "x-mbx-order-count-10s")
        started = self.window_started if now - self.window_started < 60 else now - (now % 60)
        return replace(
            self,
            used_weight=weight if weight is not None else self.used_weight,
            order_count_10s=orders if orders is not None else self.order_count_10s,
            window_started=started,
        )

    def ban(self, retry_after_seconds: float, now: float) -> RatePacer:
        return replace(self, banned_until=max(self.banned_until, now + retry_after_seconds))

    def delay(self, now: float, is_order: bool = False) -> float:
        """Seconds to wait before the next request."""
        if now < self.banned_until:
            return self.banned_until - now
        window_left = max(0.0, 60 - (now - self.window_started))
        if self.used_weight >= self.weight_limit * self.safety:
            return window_left
        if is_order and self.order_count_10s >= self.order_limit_10s * self.safety:
            return max(0.0, 10 - (now % 10))
        return 0.0


def _int(headers: dict[str, str], name: str) -> int | None:
    for key, value in headers.items():
        if key.lower() == name:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def retry_after_seconds(headers: dict[str, str], default: float = 1.0) -> float:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return default
    return default
