"""Whether an account's loss watches follow prices tick by tick, asked of entry_gate (the risk
authority owns the policy): ``GET /policies/{account}``. The lockstep replay leaves a candle's
ticks out only for accounts whose drawdown and daily-loss watches are both off; an answer it
cannot get counts as "on", so the ticks go out."""

from __future__ import annotations

import httpx
from robson_kit.logs import get_logger

log = get_logger(__name__)


class GateWatch:
    def __init__(self, gate_url: str, token: str = "", timeout: float = 5.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(base_url=gate_url.rstrip("/"), headers=headers,
                                         timeout=timeout)
        self._off: dict[str, bool] = {}

    def forget(self, account_id: str) -> None:
        self._off.pop(account_id, None)

    async def off(self, account_id: str) -> bool:
        known = self._off.get(account_id)
        if known is not None:
            return known
        try:
            response = await self._client.get(f"/policies/{account_id}")
            response.raise_for_status()
            policy = response.json()["policy"]
            off = not policy["drawdown"]["enabled"] and not policy["daily_loss"]["enabled"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            log.warning("lockstep.watch_unknown", account_id=account_id, error=repr(exc)[:200])
            return False
        self._off[account_id] = off
        return off

    async def close(self) -> None:
        await self._client.aclose()
