"""An absurd balance is refused at the edge, naming the field (it once produced a 3 MB event
that blocked paper's outbox for good)."""

from __future__ import annotations

from robson_kit.service import Service
from robson_kit.testing import asgi_client


async def test_put_account_with_absurd_balance_answers_422_naming_the_field(paper: Service) -> None:
    async with asgi_client(paper) as client:
        answer = await client.put("/accounts/zz", json={"balances": {"USDT": "1e999999"}})
        assert answer.status_code == 422, answer.text
        (error,) = answer.json()["detail"]
        assert error["field"] == "body.balances.USDT"
        assert "1e18" in error["message"]
        assert (await client.get("/accounts/zz")).status_code == 404
