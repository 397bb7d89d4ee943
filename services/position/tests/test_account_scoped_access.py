"""The venue re-sync covers every account's positions: its report is not an account token's."""

from __future__ import annotations

import httpx
from robson_kit.testing import asgi_client, auth_headers
from robson_position.deps import PositionService
from robson_position.handlers.resync import ResyncReport

from .factories import T0


async def test_an_account_admin_does_not_read_other_accounts_resync_findings(
    service: PositionService, api: httpx.AsyncClient
) -> None:
    report = ResyncReport("START", T0, T0, 1, 1, 1, findings=[
        {"position_id": "pos-of-acc-b", "kind": "MISSED_FILL", "order_id": "pos-of-acc-b-0T0",
         "fill_id": "f1", "detail": "TP1 filled at 51000", "applied": True}])
    service.deps.runtime.last_resync = report
    assert (await api.get("/resync/last")).status_code == 200  # an all-accounts admin
    async with asgi_client(service, "http://position",
                           auth_headers("admin", accounts=["acc-a"])) as scoped:
        response = await scoped.get("/resync/last")
    assert "pos-of-acc-b" not in response.text
    assert response.status_code == 404
