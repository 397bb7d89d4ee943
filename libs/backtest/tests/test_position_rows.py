"""position's in-memory table keeps the state a handler saves as it is, not a copy of it
(``robson_position.adapters.memory``). That is sound while no handler changes a state after its
last save in a transaction: the table would then hold a change that was never saved, which a
database would not. Checked here over whole runs with rules of every kind in play: after each
delivery (a committed transaction), every row must still be what was saved into it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from robson_backtest.bus import MemoryBus
from robson_backtest.engine import RunResult, run_backtest
from robson_backtest.spec import BacktestSpec
from robson_kit.errors import PermanentError
from robson_position.adapters.memory import MemoryPositions, PositionTables, Row
from robson_position.handlers import commands

from .helpers import candles, policy, spec, trader
from .test_skipping import (
    _atr_stops_atr_trailing_watch_on,
    _managed,
    _percent_stops_watch_off,
    _swing_stops_time_exit_daily_loss,
)


def _split_take_profits() -> BacktestSpec:
    """Two take-profits of half each, then a breakeven: partial closes and stop moves."""
    t = _managed(trader("split", ("BTCUSDT", "ETHUSDT")), tp_pcts=(Decimal("0.5"), Decimal(2)),
                 tp_fractions=(Decimal("0.5"), Decimal("0.5")), breakeven_at_r=Decimal("0.5"))
    return spec((t,), policy(daily_loss={"enabled": False}, drawdown={"enabled": False}))


class SavedRows:
    """What each save put into the table, compared with the table after each transaction."""

    def __init__(self) -> None:
        self.saved: dict[str, tuple[Row, dict[str, Any]]] = {}
        self.tables: PositionTables | None = None
        self.checks = 0

    def record(self, tables: PositionTables) -> None:
        self.tables = tables
        for pid, row in tables.positions.items():
            if pid not in self.saved or self.saved[pid][0] is not row:
                self.saved[pid] = (row, row.state.model_dump())

    def check(self) -> None:
        if self.tables is None:
            return
        self.checks += 1
        for pid, (row, dump) in self.saved.items():
            if self.tables.positions.get(pid) is row:
                assert row.state.model_dump() == dump, f"position {pid} changed after its save"


def _checked_run(make: Callable[[], BacktestSpec], monkeypatch: pytest.MonkeyPatch) -> tuple[RunResult, SavedRows]:
    rows = SavedRows()

    def after_saving(method: Callable[..., Any]) -> Callable[..., Any]:
        async def saving(self: MemoryPositions, *args: Any) -> Any:
            out = await method(self, *args)
            rows.record(self.t)
            return out
        return saving

    for name in ("add", "save", "save_marks"):
        monkeypatch.setattr(MemoryPositions, name, after_saving(getattr(MemoryPositions, name)))
    deliver = MemoryBus._deliver

    async def checked(self: MemoryBus, route: Any, batch: list[Any]) -> None:
        await deliver(self, route, batch)
        rows.check()

    monkeypatch.setattr(MemoryBus, "_deliver", checked)
    result = asyncio.run(run_backtest(make(), candles(["BTCUSDT", "ETHUSDT"], 1200, seed=11)))
    rows.check()
    return result, rows


@pytest.mark.parametrize("make", [_percent_stops_watch_off, _atr_stops_atr_trailing_watch_on,
                                  _swing_stops_time_exit_daily_loss, _split_take_profits])
def test_every_position_row_holds_what_was_saved_into_it_after_each_transaction(
        make: Callable[[], BacktestSpec], monkeypatch: pytest.MonkeyPatch) -> None:
    result, rows = _checked_run(make, monkeypatch)
    assert len(result.trades) >= 5 and not result.dead_letters
    assert len(rows.saved) >= len(result.trades) and rows.checks > 1000


def test_a_handler_changing_a_position_after_saving_it_is_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a close that notes something after its save."""
    emit_all = commands.emit_all

    def noted_after_save(uow: Any, position: Any) -> None:
        position.s.exit_note = (position.s.exit_note or "") + " (after the save)"
        emit_all(uow, position)

    monkeypatch.setattr(commands, "emit_all", noted_after_save)
    with pytest.raises(AssertionError, match="changed after its save"):
        _checked_run(_percent_stops_watch_off, monkeypatch)


def test_a_failed_handler_leaves_the_row_as_it_was_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads still hand out copies: a handler that changes a position and then fails for good
    (a dead letter) leaves the table as the last save left it."""
    apply = commands.apply_modification
    failed: list[str] = []

    def failing(position: Any, *args: Any, **kwargs: Any) -> None:
        apply(position, *args, **kwargs)  # the change is made, then the handler fails
        failed.append(position.s.position_id)
        raise PermanentError("TEST_FAILURE", "failed after changing the position")

    monkeypatch.setattr(commands, "apply_modification", failing)
    result, rows = _checked_run(_atr_stops_atr_trailing_watch_on, monkeypatch)
    assert failed and {d.reason_code for d in result.dead_letters} == {"TEST_FAILURE"}
    assert rows.checks > 1000
