"""Balance reconciliation: exchange balances vs what execution's own fills explain."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from robson_contracts import subjects as s
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .conftest import enable_live
from .fakes import FakeBinance
from .helpers import account_events, of, order_events, submit


async def _reconcile(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await api.post("/accounts/acc1/reconcile")
    assert r.status_code == 200, r.text
    return [i for i in r.json()["items"] if i["kind"] == "BALANCE_MISMATCH"]


async def test_withdrawal_is_flagged_once_as_balance_mismatch_while_our_fills_explain_the_rest(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    await enable_live(api)

    async def ready() -> bool:
        return bool(of(await account_events(bus), "ReconciliationCompleted"))

    await wait_until(ready, message="start-up reconciliation (the baseline)")
    await bus.publish(submit("b1", side="BUY", qty="0.01"))
    await bus.publish(submit("s1", side="SELL", qty="0.004"))

    async def filled() -> bool:
        evts = await order_events(bus)
        return bool(of(evts, "OrderFilled", "b1") and of(evts, "OrderFilled", "s1"))

    await wait_until(filled, message="both fills")
    assert await _reconcile(api) == []  # every change explained by our two fills and their fees

    fake.engine.balances["BTC"] -= Decimal("1.5")  # withdrawn by hand, outside robson
    flagged = await _reconcile(api)
    assert [(i["action"], i["order_id"], i["detail"].split(":")[0]) for i in flagged] == [("FLAGGED", None, "BTC")]
    assert "unexplained -1.5" in flagged[0]["detail"]
    published = of(await account_events(bus), "ReconciliationCompleted")[-1]
    assert [(i.kind, i.action) for i in published.items] == [("BALANCE_MISMATCH", "FLAGGED")]
    shown = (await api.get("/accounts/acc1/reconciliations")).json()[0]
    assert [i["kind"] for i in shown["items"]] == ["BALANCE_MISMATCH"] and shown["balances_at"]

    assert len(fake.engine.orders) == 2  # flagged, never "fixed" by trading
    assert await _reconcile(api) == []  # the new snapshot is the baseline: reported once


async def test_reconciliation_publishes_the_live_balances_valued_at_binance_prices_for_the_gate(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    """The gate sizes and watches an account on its equity; a live account's is what Binance
    holds (100,000 USDT + 10 BTC at 60,000 in the fake), not the policy's default capital."""
    await enable_live(api)

    async def snapshot() -> list[Any]:
        return of(await read_stream(bus, s.balance("acc1")), "BalanceSnapshot")

    (first,) = await wait_until(snapshot, message="a BalanceSnapshot after the start-up reconciliation")
    assert (first.account_id, first.mode.value, first.quote_asset) == ("acc1", "LIVE", "USDT")
    assert first.equity == Decimal(100000) + 10 * Decimal(60000)
    assert {b.asset: b.free for b in first.balances} == {"USDT": Decimal(100000), "BTC": Decimal(10)}

    fake.engine.balances["ETH"] = Decimal(2)  # no ETHUSDT price in the fake: left out, not guessed
    fake.engine.prices["BTCUSDT"] = Decimal(50000)
    assert (await api.post("/accounts/acc1/reconcile")).status_code == 200
    latest = (await snapshot())[-1]
    assert latest.equity == Decimal(100000) + 10 * Decimal(50000)
    assert {b.asset for b in latest.balances} == {"USDT", "BTC", "ETH"}
