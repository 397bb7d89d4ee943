"""entry_gate's stores in memory, for the one-process backtest: the same projections, caches and
per-transaction staging as the Postgres stores (they subclass them), with no rows to write.
``uow.session.info`` is the transaction's scratch space, as it is in the service."""

from __future__ import annotations

from datetime import timedelta

from robson_contracts import GateDecision
from robson_kit.uow import UnitOfWork

from robson_entry_gate.adapters.accounts import AccountStore
from robson_entry_gate.adapters.market import MarketStore
from robson_entry_gate.adapters.policies import PolicyStore
from robson_entry_gate.domain.state import AccountState, MarketSnapshot


class MemoryAccountStore(AccountStore):
    async def _lock(self, session: object, account_id: str) -> tuple[AccountState, int]:
        cached = self._cache.get(account_id)
        self._dirty.add(account_id)
        if cached is None:
            return AccountState(account_id=account_id), 0
        return cached[1], cached[0]  # as the service's trusted cache hit

    async def _lock_many(self, session: object, wanted: list[str],
                         ahead: dict[str, tuple[AccountState, int]]) -> None:
        """Nothing to read ahead: ``lock`` takes each from the cache."""

    async def _write_rows(self, uow: UnitOfWork,
                          rows: list[tuple[str, int, AccountState]]) -> None:
        """The committed copies are published by ``save``'s after-commit callbacks."""

    async def _write_row(self, uow: UnitOfWork, account_id: str, version: int,
                         state: AccountState) -> None:
        """The committed copy is published by ``save``'s after-commit callback."""


class MemoryMarketStore(MarketStore):
    def __init__(self) -> None:
        """No rows to keep current: after a symbol's first price, none is ever due to be
        stored, so a price the watches need not see moves the view with no transaction."""
        super().__init__(write_interval=timedelta.max)

    async def _write_rows(self, uow: UnitOfWork, snaps: list[MarketSnapshot]) -> None:
        """The view is merged by ``persist``'s after-commit callback."""


class MemoryPolicyStore(PolicyStore):
    async def _put(self, uow: UnitOfWork, account_id: str, trader_id: str, doc: dict) -> None:
        """``put_account`` / ``put_trader`` publish the policy after commit."""


class MemoryDecisionLog:
    def __init__(self) -> None:
        self.decisions: dict[str, GateDecision] = {}

    async def exists(self, uow: UnitOfWork, gate_decision_id: str) -> bool:
        return gate_decision_id in self.decisions

    async def prefetch(self, uow: UnitOfWork, gate_decision_ids: list[str]) -> None:
        """Nothing to read ahead in memory."""

    async def prefetch_locking(self, uow: UnitOfWork, gate_decision_id: str,
                               accounts: AccountStore, account_id: str) -> None:
        """Nothing to read ahead in memory (``lock`` takes the account from the cache)."""

    def append(self, uow: UnitOfWork, message: GateDecision) -> None:
        self.decisions[message.gate_decision_id] = message
