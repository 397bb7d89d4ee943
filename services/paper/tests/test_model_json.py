"""Orders and accounts as the store writes them: the JSON of ``to_json`` is that of
``dataclasses.asdict`` with decimals in plain notation and times in ISO 8601, and reads back
as the same object."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from robson_contracts import OrderRole, OrderType, Side, TimeInForce
from robson_paper.domain.model import Account, BracketPlan, Order, OrderStatus, TakeProfitLeg

D = Decimal
T0 = datetime(2024, 1, 1, 12, 30, tzinfo=UTC)


def _reference(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reference(v) for v in value]
    return value


def _order(**changes: Any) -> Order:
    values: dict[str, Any] = dict(
        account_id="a1", tenant_id="default", order_id="o1", symbol="BTCUSDT", side=Side.BUY,
        type=OrderType.STOP_LIMIT, quantity=D("0.12300"), price=D("99.5"), stop_price=D("1E+2"),
        time_in_force=TimeInForce.GTC, seq=7, created_at=T0, role=OrderRole.ENTRY,
        list_id="l1", status=OrderStatus.PARTIALLY_FILLED, filled_qty=D("0.1"),
        filled_notional=D("9.95"), fees=D("0.00995"), fill_count=2, updated_at=T0,
        bracket=BracketPlan(D("98"), D("97.9"), "s1",
                            [TakeProfitLeg("t1", "s1", D("105"), D("0.5")),
                             TakeProfitLeg("t2", "s1", D("110"), D("0.5"))],
                            D("100"), ["t3"], ["t1"]),
    )
    return Order(**{**values, **changes})


def test_an_orders_json_is_asdicts_with_plain_decimals_and_reads_back_the_same() -> None:
    for order in (_order(), _order(bracket=None, price=None, role=None, updated_at=None)):
        written = json.dumps(order.to_json())
        assert written == json.dumps(_reference(asdict(order)))
        assert '"stop_price": "100"' in written  # 1E+2 in plain notation
        assert Order.from_json(json.loads(written)) == order


def test_an_accounts_json_is_asdicts_with_plain_decimals_and_reads_back_the_same() -> None:
    account = Account("a1", starting={"USDT": D("1E+4")}, free={"USDT": D("9000.5"), "BTC": D("0")},
                      holds={"o1": {"USDT": D("999.5")}, "l1": {"BTC": D("0.01")}},
                      borrowed={"BTC": D("0.002")})
    written = json.dumps(account.to_json())
    assert written == json.dumps(_reference(asdict(account)))
    assert Account.from_json(json.loads(written)) == account
