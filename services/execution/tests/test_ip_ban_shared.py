"""A 418 (IP ban) seen by one account's gateway must hold the other accounts' requests
to the same endpoint too — the ban is per IP; hammering on escalates it (2 min → 3 days)."""

from __future__ import annotations

import asyncio

import httpx
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import wait_until

from .conftest import CONFIRM
from .fakes import FakeBinance, Fault
from .helpers import account_events, of, order_events, submit


async def test_ip_ban_seen_by_one_account_holds_the_other_accounts_requests(
    bus: Bus, execution: Service, api: httpx.AsyncClient, fake: FakeBinance
) -> None:
    fake.keys["second-key"] = "second-secret"
    for acc, key, secret in (("acc1", "test-key", "test-secret"), ("acc2", "second-key", "second-secret")):
        r = await api.put(f"/accounts/{acc}/keys", json={"api_key": key, "api_secret": secret})
        assert r.status_code == 200, r.text
        r = await api.put(f"/accounts/{acc}", json={"mode": "LIVE", "testnet": True, "confirmation": CONFIRM})
        assert r.status_code == 200, r.text

    async def both_ready() -> bool:
        return {e.account_id for e in of(await account_events(bus), "ReconciliationCompleted")} == {"acc1", "acc2"}

    await wait_until(both_ready, message="both reconciled")
    fake.inject(Fault("POST", "order", "418", retry_after=3))
    await bus.publish(submit("a1", account_id="acc1"))

    async def banned() -> bool:
        return any(code == -1003 for _, _, code in fake.errors)

    await wait_until(banned, message="418 for acc1")
    requests_at_ban = len(fake.requests)
    await bus.publish(submit("b1", account_id="acc2"))
    await asyncio.sleep(1.5)  # well inside the 3 s ban
    during = [(m, path) for m, path, _ in fake.requests[requests_at_ban:]]
    assert during == [], f"requests sent while the IP was banned: {during}"

    async def filled(order_id: str) -> bool:
        return bool(of(await order_events(bus), "OrderFilled", order_id))

    await wait_until(lambda: filled("a1"), message="a1 after the ban")
    await wait_until(lambda: filled("b1"), message="b1 after the ban")
