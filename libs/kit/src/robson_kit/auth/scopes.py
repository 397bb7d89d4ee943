"""Who is calling and what they may do: scopes (admin ⊃ trade ⊃ read) and accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

ALL_ACCOUNTS = "*"


class Scope(StrEnum):
    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Scope.READ: 1, Scope.TRADE: 2, Scope.ADMIN: 3}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request (from a verified token)."""

    subject: str
    scopes: frozenset[Scope]
    accounts: frozenset[str]
    jti: str
    expires_at: datetime

    @property
    def level(self) -> Scope:
        return max(self.scopes, key=lambda s: s.rank)

    def has(self, scope: Scope) -> bool:
        """admin implies trade implies read."""
        return self.level.rank >= scope.rank

    @property
    def all_accounts(self) -> bool:
        return ALL_ACCOUNTS in self.accounts

    def can_access(self, account_id: str | None) -> bool:
        return self.all_accounts or (account_id is not None and account_id in self.accounts)

    def account_filter(self, requested: str | None) -> list[str] | None:
        """Accounts a list query may cover: None = every account. A requested account this
        principal may not see raises ``AccountHidden`` (the route answers 404)."""
        if requested is not None:
            if not self.can_access(requested):
                raise AccountHidden(requested)
            return [requested]
        return None if self.all_accounts else sorted(self.accounts)

    def query_account(self, requested: str | None) -> str | None:
        """The one account a list query should filter on (None: all; for a token of several
        accounts, filter the rows with ``visible``)."""
        accounts = self.account_filter(requested)
        return accounts[0] if accounts and len(accounts) == 1 else None

    def visible(self, rows: list[dict], key: str = "account_id") -> list[dict]:
        """Rows of a list answer this principal may see (its accounts only)."""
        if self.all_accounts:
            return rows
        return [r for r in rows if r.get(key) in self.accounts]


class AccountHidden(LookupError):
    """An account (or a resource of one) outside the caller's accounts: answered as 404."""

    def __init__(self, account_id: str | None = None, what: str = "resource") -> None:
        super().__init__(f"no such {what}" if account_id is None else f"no such {what} for account {account_id}")
