"""Access control shared by every service: EdDSA bearer tokens, scopes, accounts, revocation."""

from robson_kit.auth.guard import (
    AdminPrincipal,
    Authenticator,
    ReadPrincipal,
    TradePrincipal,
    authenticate,
    authenticator_for,
    open_route,
    rate_limit,
    require,
)
from robson_kit.auth.scopes import ALL_ACCOUNTS, AccountHidden, Principal, Scope

__all__ = [
    "ALL_ACCOUNTS", "AccountHidden", "AdminPrincipal", "Authenticator", "Principal",
    "ReadPrincipal", "Scope", "TradePrincipal", "authenticate", "authenticator_for", "open_route",
    "rate_limit", "require",
]
