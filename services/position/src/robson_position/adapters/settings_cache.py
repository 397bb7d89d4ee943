"""Read-through cache of trader policies, pause flags and account settings (read per entry and
per position on every candle; written rarely, and only by this service).

A value read from the database is kept only if no write to the same kind committed meanwhile
(the generation did not move) and the reading transaction wrote no settings itself (it could
roll back). Writers call ``changed``: the entry is dropped at once and again after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from robson_kit.uow import UnitOfWork

from robson_position.adapters.repository import Settings, settings_of
from robson_position.domain.policy import AccountSettings, ManagementPolicy

_DIRTY = "position.settings_written"


class SettingsCache:
    def __init__(self) -> None:
        self._values: dict[tuple[str, str], Any] = {}
        self._generation = 0

    async def policy(self, uow: UnitOfWork, trader_id: str) -> ManagementPolicy:
        return (await self._get(uow, ("trader", trader_id), lambda s: s.trader(trader_id)))[1]

    async def paused(self, uow: UnitOfWork, trader_id: str) -> bool:
        return (await self._get(uow, ("trader", trader_id), lambda s: s.trader(trader_id)))[0]

    async def account(self, uow: UnitOfWork, account_id: str) -> AccountSettings:
        return await self._get(uow, ("account", account_id), lambda s: s.account(account_id))

    def changed(self, uow: UnitOfWork, kind: str, key: str) -> None:
        """Call with every write of a ``trader`` (policy, pause) or ``account`` row."""
        uow.session.info[_DIRTY] = True
        self._forget((kind, key))
        uow.after_commit(lambda: self._forget((kind, key)))

    def _forget(self, key: tuple[str, str]) -> None:
        self._generation += 1
        self._values.pop(key, None)

    async def _get(self, uow: UnitOfWork, key: tuple[str, str],
                   read: Callable[[Settings], Awaitable[Any]]) -> Any:
        if key in self._values:
            return self._values[key]
        generation = self._generation
        value = await read(settings_of(uow.session))
        if generation == self._generation and not uow.session.info.get(_DIRTY):
            self._values[key] = value
        return value
