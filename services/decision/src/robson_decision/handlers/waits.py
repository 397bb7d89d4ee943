"""How long a decision waits for its model call to be made ahead (``handlers/ahead.py``).

Inside its transaction the handler never asks the model: a decision whose call was not made
ahead goes back to the stream (``NotYet``), and the redelivery's ask-ahead makes it. A prompt
the ask-ahead never foresees (inputs that change between the two, a candle before the one
reviewed that was handed but is never stored) would wait forever: after ``limit`` waits the
rules answer instead.

The count is kept in memory, per decision, like the kit's failure count (lost on restart,
which only lets a decision wait a few times more). A review behind uncommitted candles of its
position (a backlog: each redelivery's ask-ahead foresees only the first of them) is not stuck
but queued: each review of the position committed starts the others' counts again, so a
backlog longer than ``limit`` is answered by the model throughout.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

REMEMBERED = 10_000
"""Waiting decisions remembered (oldest forgotten first)."""


@dataclass
class Waits:
    limit: int = 5
    _waits: OrderedDict[str, tuple[str, int]] = field(default_factory=OrderedDict)
    """decision id → (its group: the position reviewed, or the decision itself; waits so far)"""

    def enough(self, decision_id: str) -> bool:
        return self._waits.get(decision_id, ("", 0))[1] >= self.limit

    def waited(self, decision_id: str, group: str) -> int:
        """Counts one wait of this decision; how many so far."""
        _, waits = self._waits.pop(decision_id, (group, 0))
        self._waits[decision_id] = (group, waits + 1)
        while len(self._waits) > REMEMBERED:
            self._waits.popitem(last=False)
        return waits + 1

    def any(self) -> bool:
        return bool(self._waits)

    def answered(self, decision_id: str, group: str) -> None:
        """This decision's answer is committed: the others of its group are queued behind it,
        not stuck, and start counting again."""
        self._waits.pop(decision_id, None)
        for other in [d for d, (g, _) in self._waits.items() if g == group]:
            self._waits[other] = (group, 0)
