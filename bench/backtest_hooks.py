"""Each close time of a backtest run, as the two instrumented runs see it
(``backtest_breakdown``: timed; ``backtest_calls``: counted): its span, from ``engine._plan`` to
the end of ``engine._send`` when it sends something, and its kind — ``idle`` (nothing sent,
nothing open), ``owed`` (nothing sent with a position open: a quiet bar held back, see
``libs/backtest/deferral.py``), ``signal`` (messages delivered, no fill) or ``fill``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType
from typing import Any

from robson_backtest import engine
from robson_signal.domain.bars import Bar

KINDS = ("signal", "fill", "owed", "idle")


def kind_lines(steps: Counter[str], amounts: Counter[str], each: Callable[[float], str],
               share: Callable[[float], str]) -> list[str]:
    """A line per kind of close time that occurred: how many, ``each`` of its mean amount (of
    time, of calls) and ``share`` of its total."""
    return [f"  close times {kind:<7} {steps[kind]:>7,}  {each(amounts[kind] / steps[kind])}  "
            f"{share(amounts[kind])}" for kind in KINDS if steps[kind]]


@contextmanager
def close_times(began: Callable[[], Any], ended: Callable[[str, Any], None]) -> Iterator[set[CodeType]]:
    """While open, ``began()`` runs as each close time starts and ``ended(kind, token)`` as it
    ends, ``token`` being what ``began`` returned; yields the hooks' own code objects."""
    plan, send = engine._plan, engine._send
    pending: list[tuple[int, int, Any]] = []

    def finish(platform: Any, sent: int, fills: int, token: Any) -> None:
        if platform.bus.published == sent:
            kind = "owed" if platform.recorder.open else "idle"
        else:
            kind = "fill" if len(platform.recorder.fills) > fills else "signal"
        ended(kind, token)

    def hooked_plan(platform: Any, activity: Any, owed: Any, group: list[Bar],
                    before: list[Any]) -> Any:
        sent, fills = platform.bus.published, len(platform.recorder.fills)
        token = began()
        point = plan(platform, activity, owed, group, before)
        if type(point) is engine.EquityPoint:
            finish(platform, sent, fills, token)
        else:  # the close time goes on to the end of ``_send``
            pending.append((sent, fills, token))
        return point

    async def hooked_send(platform: Any, activity: Any, owed: Any, group: list[Bar],
                          before: list[Any], planned: Any) -> Any:
        point = await send(platform, activity, owed, group, before, planned)
        finish(platform, *pending.pop())
        return point

    engine._plan, engine._send = hooked_plan, hooked_send  # type: ignore[assignment]
    try:
        yield {finish.__code__, hooked_plan.__code__, hooked_send.__code__}
    finally:
        engine._plan, engine._send = plan, send  # type: ignore[assignment]
