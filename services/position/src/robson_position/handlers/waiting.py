"""A decision made on a candle is applied once position has marked that candle itself.

Position and decision both consume the candle that closes at T; decision's review of it (a
trail, a breakeven, an exit) comes back to position as a TradeDecision stamped T. The two
consumers race: a decision applied before position's own candle at T would measure a trail from
the best price before that candle, and position's rules at T would then be limited by the
decision's stamp. Applied after it, the result is the same on every run, restart or not. So a
decision that is ahead of the position's marks goes back to the stream (``NotYet``) until the
candle is in, for at most ``limit_seconds`` of wall time: a candle that never comes (a feed gap)
must not hold a decision back for long.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

from robson_contracts import TradeDecision, TriggeredBy

from robson_position.domain.state import PositionState

REMEMBERED = 10_000
ASK_AGAIN_SECONDS = 0.1
"""Short: in a lockstep replay the candle is handled within milliseconds. Kept with the limit
well under the server's delivery limit (``max_deliver + max_deliver_margin``)."""


def ahead_of_marks(s: PositionState, d: TradeDecision) -> bool:
    """The decision was made on market data at a time the holding position has not marked."""
    if d.triggered_by is TriggeredBy.USER_MANUAL or d.timeframe is None or not s.holds:
        return False  # a person's decision is stamped with the wall's time, not the market's
    if s.opened_at is None or s.opened_at >= d.occurred_at:
        return False  # position marks no candle that closes by its opening
    return s.last_candle_at is None or s.last_candle_at < d.occurred_at


class DecisionWait:
    """How long each decision has been waiting for its candle (in this process)."""

    def __init__(self, limit_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit_seconds
        self.monotonic = monotonic
        self._since: OrderedDict[UUID, float] = OrderedDict()

    def keep_waiting(self, message_id: UUID) -> bool:
        """True while the decision may still wait; False once the limit has passed."""
        now = self.monotonic()
        since = self._since.setdefault(message_id, now)
        while len(self._since) > REMEMBERED:
            self._since.popitem(last=False)
        if now - since < self.limit:
            return True
        self._since.pop(message_id, None)
        return False

    def done(self, message_id: UUID) -> None:
        self._since.pop(message_id, None)
