"""Access control shared by every service: EdDSA bearer tokens, scopes, accounts, revocation.

The FastAPI guard (``guard.py``) is imported on first use of one of its names: the `robson`
command needs only ``keys`` and ``tokens``, and FastAPI takes ~0.35 s to import."""

from typing import TYPE_CHECKING, Any

from robson_kit.auth.scopes import ALL_ACCOUNTS, AccountHidden, Principal, Scope

if TYPE_CHECKING:
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

_FROM_GUARD = frozenset({
    "AdminPrincipal", "Authenticator", "ReadPrincipal", "TradePrincipal", "authenticate",
    "authenticator_for", "open_route", "rate_limit", "require",
})

__all__ = [
    "ALL_ACCOUNTS", "AccountHidden", "AdminPrincipal", "Authenticator", "Principal",
    "ReadPrincipal", "Scope", "TradePrincipal", "authenticate", "authenticator_for", "open_route",
    "rate_limit", "require",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_GUARD:
        from robson_kit.auth import guard

        return getattr(guard, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
