"""The same input events give the same output messages, byte for byte."""

from __future__ import annotations

from robson_contracts import encode
from robson_paper.domain import plan_of
from robson_paper.handlers.outgoing import messages

from .bus_helpers import bracket, candle, tick


def _run(inputs: list) -> list[bytes]:
    from robson_paper.domain import Exchange

    ex = Exchange()
    out: list[bytes] = []
    cmd = inputs[1]
    for message in inputs:
        if message is cmd:
            plan = plan_of(cmd.stop_price, None, cmd.stop_order_id,
                           [(t.order_id, t.stop_order_id, t.price, t.fraction)
                            for t in cmd.take_profits])
            ex.submit_bracket(cmd.account_id, cmd.tenant_id, cmd.list_id, cmd.entry, plan,
                              cmd.occurred_at, cmd.position_id)
        elif message.message_type == "Candle":
            ex.on_candle(message)
        else:
            ex.on_price(message.symbol, message.price, message.occurred_at)
        out += [encode(m) for m in messages(ex.drain(), ex, message.message_id,
                                            message.correlation_id, message.occurred_at)]
    return out


def test_replaying_the_same_inputs_yields_byte_identical_messages() -> None:
    inputs = [tick("100", 1), bracket(2), tick("100.5", 3),
              candle("100", "101", "94", "96", start=60), tick("111", 200)]
    first, second = _run(inputs), _run(inputs)
    assert first == second
    stop_fills = [m for m in first if b'"OrderFilled"' in m and b'"e1-tps"' in m]
    assert len(stop_fills) == 1 and b'"price":"94.95"' in stop_fills[0]  # stop 95 less 5 bps
