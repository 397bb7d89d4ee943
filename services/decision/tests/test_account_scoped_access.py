"""Model calls and dry runs of a trader belong to the account of its decisions: an account token
sees and spends nothing of another account's."""

from __future__ import annotations

import json
from datetime import timedelta

from robson_kit.bus import Bus
from robson_kit.testing import asgi_client, auth_headers

from .factories import T0, signal
from .fake_llm import FakeLlm, answer
from .test_llm import GOOD, llm_trader, one_decision


async def test_a_trader_moved_to_another_account_does_not_carry_its_old_accounts_model_calls(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("mover", answer(GOOD), answer(GOOD))
    await llm_trader(service, "mover")
    await bus.publish(signal("LONG", "0.8", trader_id="mover", account_id="acc-old", i=1))
    old = await one_decision(bus, "acc-old")
    await bus.publish(signal("LONG", "0.8", trader_id="mover", account_id="acc-new", i=2,
                             candle_time=T0 + timedelta(hours=1)))
    new = await one_decision(bus, "acc-new")
    async with asgi_client(service, "http://decision",
                           auth_headers("admin", accounts=["acc-new"])) as http:
        response = await http.get("/model-calls", params={"trader_id": "mover"})
    assert response.status_code == 200, response.text
    seen = {c["decision_id"] for c in response.json()}
    assert old.decision_id not in seen, "acc-old's model call (prompt answer) shown to acc-new"
    assert seen == {new.decision_id}


async def test_a_dry_run_cannot_spend_another_accounts_traders_llm_budget(
    bus: Bus, schema: str, start_decision, fake_llm: FakeLlm
) -> None:
    service = await start_decision(schema, llm_base_url=fake_llm.url)
    fake_llm.script("victim", *[answer(GOOD)] * 5)
    await llm_trader(service, "victim", llm_daily_call_budget=3)
    await bus.publish(signal("LONG", "0.8", trader_id="victim", account_id="acc-victim", i=1))
    await one_decision(bus, "acc-victim")
    sig = signal("LONG", "0.8", trader_id="victim", account_id="acc-attacker", i=2)
    async with asgi_client(service, "http://decision",
                           auth_headers("trade", accounts=["acc-attacker"])) as http:
        response = await http.post("/decide", json={"signal": json.loads(sig.model_dump_json())})
    assert response.status_code == 404, response.text
    assert len(fake_llm.requests_for("victim")) == 1
