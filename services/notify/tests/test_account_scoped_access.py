"""Deliveries carry an account (titles and figures of its positions, risk, venue events): a token
limited to some accounts sees only theirs, like every other service's lists."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from robson_kit.service import Service
from robson_kit.testing import asgi_client, auth_headers
from robson_notify.adapters.tables import deliveries


async def _row(service: Service, account_id: str, title: str) -> str:
    now = datetime.now(UTC)
    did = uuid.uuid4()
    async with service.uow() as uow:
        await uow.session.execute(deliveries.insert().values(
            delivery_id=did, event_id=uuid.uuid4(), channel="hook", kind="position.closed",
            severity=10, account_id=account_id, title=title, text=title, data={},
            status="DELIVERED", attempts=1, next_attempt_at=now, created_at=now, occurred_at=now,
            last_error=""))
    return str(did)


async def test_deliveries_of_another_account_are_hidden_from_an_account_token(notify: Service) -> None:
    mine = await _row(notify, "acc-a", "BTCUSDT closed +10 USDT")
    theirs = await _row(notify, "acc-b", "ETHUSDT closed +99999 USDT")
    async with asgi_client(notify, headers=auth_headers("read", accounts=["acc-a"])) as client:
        listed = (await client.get("/deliveries")).json()
        filtered = await client.get("/deliveries", params={"account_id": "acc-b"})
        one = await client.get(f"/deliveries/{theirs}")
        own = await client.get(f"/deliveries/{mine}")
    assert [r["delivery_id"] for r in listed] == [mine]
    assert filtered.status_code == 404 or filtered.json() == []
    assert one.status_code == 404
    assert own.status_code == 200


async def test_an_account_admin_cannot_route_every_accounts_notifications_to_its_own_channel(
    notify: Service, fake
) -> None:
    from .conftest import channels

    hijack = {"channels": {"mine": channels(fake)["hook"]},
              "routes": [{"channel": "mine", "events": ["*"], "accounts": ["*"]}]}
    async with asgi_client(notify, headers=auth_headers("admin", accounts=["acc-a"])) as client:
        response = await client.put("/config", json=hijack)
    assert response.status_code in (403, 404), response.text
    assert "mine" not in notify.deps.channels
