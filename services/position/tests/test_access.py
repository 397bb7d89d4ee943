"""Access control on position's API: another account's position is 404 to a token of a
different account, and manual actions record the token's subject, never a request field."""

from __future__ import annotations

import httpx
from robson_kit.bus import Bus
from robson_kit.service import Service
from robson_kit.testing import asgi_client, auth_headers, wait_until
from robson_position.domain.orders import position_id_for

from .factories import gate
from .fakevenue import FakeVenue


async def _open(api: httpx.AsyncClient, pid: str) -> bool:
    r = await api.get(f"/positions/{pid}")
    return r.status_code == 200 and r.json()["status"] == "OPEN"


async def test_other_accounts_token_sees_404_and_manual_actions_record_the_subject(
    bus: Bus, service: Service, api: httpx.AsyncClient, venue: FakeVenue
) -> None:
    g = gate(gate_id="g-access", account="acc-own")
    pid = position_id_for(g.gate_decision_id)
    await bus.publish(g)
    await wait_until(lambda: _open(api, pid), message="position open")

    async with asgi_client(service, "http://position", auth_headers("trade", accounts=["acc-other"])) as other:
        assert (await other.get(f"/positions/{pid}")).status_code == 404
        assert (await other.get(f"/positions/{pid}/modifications")).status_code == 404
        assert (await other.put(f"/positions/{pid}/stop-loss", json={"price": "49500"})).status_code == 404
        assert (await other.post(f"/positions/{pid}/close")).status_code == 404
        assert (await other.get("/positions", params={"account_id": "acc-own"})).status_code == 404
        assert pid not in [p["position_id"] for p in (await other.get("/positions")).json()]

    owner = auth_headers("trade", accounts=["acc-own"], subject="alice")
    async with asgi_client(service, "http://position", owner) as alice:
        assert [p["position_id"] for p in (await alice.get("/positions")).json()] == [pid]
        moved = await alice.put(f"/positions/{pid}/stop-loss", json={"price": "49500"})
        assert moved.status_code == 200, moved.text

    async def stop_moved() -> bool:
        view = (await api.get(f"/positions/{pid}")).json()
        # the replacement stop is tracked at once; the venue's OrderReplaced (a new version)
        # comes after: a close racing it would be a legitimate 409 (version conflict)
        return view["stop_loss"] == "49500" and view["status"] == "OPEN" and all(
            o["quantity"] != "0" and o["accepted"] for o in view["orders"] if o["live"])

    await wait_until(stop_moved, message="venue acknowledged the moved stop")
    async with asgi_client(service, "http://position", auth_headers("trade", subject="bob")) as bob:
        closed = await bob.post(f"/positions/{pid}/close", json={"reason": "done"})
        assert closed.status_code == 200, closed.text
    history = (await api.get(f"/positions/{pid}/modifications")).json()
    actors = {h["kind"]: h["actor"] for h in history}
    assert actors["MOVE_SL"] == "alice" and actors["CLOSE"] == "bob"


async def test_an_id_postgres_cannot_hold_is_a_422_naming_it_not_a_server_error(
    api: httpx.AsyncClient,
) -> None:
    for path in ("/positions/a%00b", "/positions/a%00b/modifications"):
        r = await api.get(path)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert r.json()["detail"][0]["type"] == "value_not_storable"
