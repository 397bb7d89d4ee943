"""The loops read which accounts are live at most once per poll interval; an account command
through the API is seen at once, however long that interval."""

from __future__ import annotations

import httpx
from robson_execution.main import build_service
from robson_kit.bus import Bus
from robson_kit.testing import ADMIN_HEADERS, wait_until

from .conftest import enable_live, settings_for
from .fakes import FakeBinance
from .helpers import account_events, of

LONG_POLL_SECONDS = 600.0


async def test_live_opt_in_through_the_api_is_reconciled_without_waiting_for_the_poll_interval(
    bus: Bus, nats_url: str, database_url: str, schema: str, fake: FakeBinance
) -> None:
    service = build_service(settings_for(nats_url, database_url, schema, fake,
                                         poll_interval_seconds=LONG_POLL_SECONDS))
    await service.start()
    try:
        executor = service.deps.executor
        assert await executor.live_accounts() == []  # read once: kept for the poll interval
        transport = httpx.ASGITransport(app=service.app(manage_lifecycle=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://execution",
                                     headers=ADMIN_HEADERS) as api:
            await enable_live(api)

            async def reconciled() -> bool:
                return bool(of(await account_events(bus), "ReconciliationCompleted"))

            await wait_until(reconciled, timeout=20, message="reconciliation of the new live account")
            assert [a.account_id for a in await executor.live_accounts()] == ["acc1"]

            r = await api.put("/accounts/acc1", json={"mode": "PAPER", "testnet": True})
            assert r.status_code == 200, r.text
            assert await executor.live_accounts() == []
    finally:
        await service.stop()
