"""Trade events each leave one readable info line; other messages none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from robson_contracts import ExitReason
from robson_contracts.positions import PositionClosed, PositionSide
from robson_position.handlers.tradelog import log_trade_event
from structlog.testing import capture_logs


def test_closed_position_logs_one_info_line_with_its_pnl_and_exit_reason() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    closed = PositionClosed(
        correlation_id=uuid.uuid4(), occurred_at=at, account_id="acc1", position_id="p1",
        trader_id="t1", symbol="BTCUSDT", side=PositionSide.LONG, quantity=Decimal("0.5"),
        entry_price=Decimal("40000"), exit_price=Decimal("41000"), realized_pnl=Decimal("480.5"),
        fees=Decimal("19.5"), exit_reason=ExitReason.TAKE_PROFIT, opened_at=at, holding_seconds=60)
    with capture_logs() as logs:
        log_trade_event(closed)
    [line] = logs
    assert line["event"] == "position.closed" and line["log_level"] == "info"
    assert line["realized_pnl"] == "480.5" and line["exit_reason"] == "TAKE_PROFIT"
    assert line["side"] == "LONG" and line["position_id"] == "p1"
