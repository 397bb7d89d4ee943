"""Policies per account and per (account, trader); unknown ones get the defaults."""

from __future__ import annotations

from robson_kit.uow import UnitOfWork
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from robson_entry_gate.adapters.tables import policies
from robson_entry_gate.domain.policy import AccountPolicy, EffectivePolicy, TraderPolicy

ACCOUNT = "*"
DEFAULT_ACCOUNT = AccountPolicy()
"""One shared instance (never mutated), so per-account memos can tell a policy change by
identity."""


class PolicyStore:
    def __init__(self) -> None:
        self._accounts: dict[str, AccountPolicy] = {}
        self._traders: dict[tuple[str, str], TraderPolicy] = {}

    async def load_all(self, session: AsyncSession) -> None:
        for row in (await session.execute(select(policies))).all():
            if row.trader_id == ACCOUNT:
                self._accounts[row.account_id] = AccountPolicy.model_validate(row.policy)
            else:
                self._traders[(row.account_id, row.trader_id)] = TraderPolicy.model_validate(
                    row.policy)

    def account(self, account_id: str) -> AccountPolicy:
        return self._accounts.get(account_id) or DEFAULT_ACCOUNT

    def trader(self, account_id: str, trader_id: str) -> TraderPolicy:
        return self._traders.get((account_id, trader_id)) or TraderPolicy()

    def traders_of(self, account_id: str) -> list[tuple[str, TraderPolicy]]:
        return [(t, p) for (a, t), p in self._traders.items() if a == account_id]

    def effective(self, account_id: str, trader_id: str) -> EffectivePolicy:
        return EffectivePolicy(account=self.account(account_id),
                               trader=self.trader(account_id, trader_id))

    def is_configured(self, account_id: str, trader_id: str = ACCOUNT) -> bool:
        if trader_id == ACCOUNT:
            return account_id in self._accounts
        return (account_id, trader_id) in self._traders

    async def put_account(self, uow: UnitOfWork, account_id: str, policy: AccountPolicy) -> None:
        await self._put(uow, account_id, ACCOUNT, policy.model_dump(mode="json"))
        uow.after_commit(lambda: self._accounts.__setitem__(account_id, policy))

    async def put_trader(self, uow: UnitOfWork, account_id: str, trader_id: str,
                         policy: TraderPolicy) -> None:
        await self._put(uow, account_id, trader_id, policy.model_dump(mode="json"))
        uow.after_commit(lambda: self._traders.__setitem__((account_id, trader_id), policy))

    async def _put(self, uow: UnitOfWork, account_id: str, trader_id: str, doc: dict) -> None:
        stmt = insert(policies).values(account_id=account_id, trader_id=trader_id, policy=doc)
        await uow.session.execute(stmt.on_conflict_do_update(
            index_elements=["account_id", "trader_id"],
            set_={"policy": stmt.excluded.policy, "updated_at": stmt.excluded.updated_at},
        ))
