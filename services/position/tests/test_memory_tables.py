"""The backtest's in-memory position table isolates as the ``state`` column does: a position
read from it is the handler's own copy until it is saved (the save keeps that copy: no handler
changes a state after saving it, ``libs/backtest/tests/test_position_rows.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from robson_contracts import ExitReason, PositionSide, TradingMode
from robson_position.adapters.memory import PositionTables
from robson_position.domain.position import Position
from robson_position.domain.state import (
    Close,
    OrderKind,
    PositionState,
    TakeProfit,
    TrackedOrder,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _position() -> Position:
    return Position(PositionState(
        position_id="p1", account_id="a1", trader_id="t1", symbol="BTCUSDT",
        side=PositionSide.LONG, venue=TradingMode.PAPER, requested_quantity=Decimal(2),
        created_at=T0,
        closes=[Close(fill_id="f1", quantity=Decimal(1), price=Decimal(110), fees=Decimal(0),
                      entry_fees=Decimal(0), realized_pnl=Decimal(10), reason=ExitReason.TAKE_PROFIT,
                      at=T0)],
        take_profits=[TakeProfit(price=Decimal(120), fraction=Decimal("0.5"))],
        orders={"o1": TrackedOrder(order_id="o1", kind=OrderKind.STOP, quantity=Decimal(1))},
        fill_ids=["f1"],
    ))


async def test_changes_to_a_read_position_are_not_stored_until_it_is_saved() -> None:
    tables = PositionTables()
    repo = tables.positions_repository()
    assert await repo.add(_position())
    stored = (await repo.get("p1")).s.model_dump()  # type: ignore[union-attr]

    read = await repo.get("p1")
    assert read is not None
    s = read.s
    s.stop_loss = Decimal(90)
    s.closes[0].price = Decimal(1)
    s.closes.append(s.closes[0])
    s.take_profits[0].filled = True
    s.orders["o1"].live = False
    s.orders["o2"] = TrackedOrder(order_id="o2", kind=OrderKind.TP, quantity=Decimal(1))
    s.fill_ids.append("f2")
    assert (await repo.get("p1")).s.model_dump() == stored  # type: ignore[union-attr]

    await repo.save(read)
    again = await repo.get("p1")
    assert again is not None
    assert again.s.stop_loss == 90 and again.s.closes[0].price == 1 and len(again.s.closes) == 2
    assert again.s.take_profits[0].filled and again.s.fill_ids == ["f1", "f2"]
    assert not again.s.orders["o1"].live and set(again.s.orders) == {"o1", "o2"}
    again.s.orders["o1"].live = True  # the next read is a copy again
    again.s.closes.clear()
    latest = await repo.get("p1")
    assert latest is not None and not latest.s.orders["o1"].live and len(latest.s.closes) == 2


def test_every_container_field_of_the_state_is_one_the_copy_knows() -> None:
    """A new list or dict field in PositionState must be copied too (see ``_copy``), and the
    models must stay without private attributes or extras."""
    containers = {name for name, f in PositionState.model_fields.items()
                  if getattr(f.annotation, "__origin__", None) in (list, dict)}
    assert containers == {"closes", "take_profits", "orders", "fill_ids"}
    for model in (PositionState, Close, TakeProfit, TrackedOrder):  # ``_clone`` copies neither
        assert not model.__private_attributes__
        assert model.model_config.get("extra") != "allow"
