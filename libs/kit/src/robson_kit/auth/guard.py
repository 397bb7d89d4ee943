"""Verification once, for every service: the app factory installs ``authenticate`` on every
router, so a route cannot be added unauthenticated by accident. A route's scope is what it
declares (``ReadPrincipal`` / ``TradePrincipal`` / ``AdminPrincipal`` or ``Depends(require(…))``),
else ``read`` for GET and ``admin`` for anything that writes."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from weakref import WeakKeyDictionary

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from robson_kit.auth import keys, tokens
from robson_kit.auth.ratelimit import RateLimiter
from robson_kit.auth.revocation import Revocations
from robson_kit.auth.scopes import Principal, Scope
from robson_kit.logs import get_logger

if TYPE_CHECKING:
    from robson_kit.service import Service
    from robson_kit.settings import ServiceSettings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REVOCATIONS_WAIT_SECONDS = 5.0
log = get_logger(__name__)
bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="`robson token create --scope read|trade|admin` prints one")


class ScopeRequirement:
    """A route's declared scope; as a dependency it yields the request's ``Principal``."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __call__(self, request: Request) -> Principal:
        return request.state.principal


def require(scope: Scope) -> ScopeRequirement:
    return ScopeRequirement(scope)


ReadPrincipal = Annotated[Principal, Depends(require(Scope.READ))]
TradePrincipal = Annotated[Principal, Depends(require(Scope.TRADE))]
AdminPrincipal = Annotated[Principal, Depends(require(Scope.ADMIN))]


def open_route(endpoint: Any) -> Any:
    """Mark a route that authenticates by other means (the signal webhook's per-trader secret).
    Put it under the router decorator: ``@router.post(...)`` then ``@open_route``."""
    endpoint.__robson_open__ = True
    return endpoint


def is_open(route: APIRoute) -> bool:
    return bool(getattr(route.endpoint, "__robson_open__", False))


def required_scope(route: APIRoute) -> Scope:
    declared = [d.scope for d in _requirements(route.dependant)]
    if declared:
        return max(declared, key=lambda s: s.rank)
    return Scope.READ if route.methods <= SAFE_METHODS else Scope.ADMIN


def _requirements(dependant: Dependant) -> list[ScopeRequirement]:
    found = [dependant.call] if isinstance(dependant.call, ScopeRequirement) else []
    for sub in dependant.dependencies:
        found += _requirements(sub)
    return found  # type: ignore[return-value]


class Authenticator:
    """One per service: the public key, the revoked ids, the write-rate limiter."""

    def __init__(self, public_key: Ed25519PublicKey | None, write_per_minute: int = 100) -> None:
        self.public_key = public_key
        self.revocations = Revocations()
        self.limiter = RateLimiter(write_per_minute)
        self._watch: asyncio.Task[None] | None = None
        self._limiters: dict[str, RateLimiter] = {}

    def named_limiter(self, name: str, per_minute: int) -> RateLimiter:
        """A named limiter of this service (e.g. the webhook's, per trader)."""
        if name not in self._limiters:
            self._limiters[name] = RateLimiter(per_minute)
        return self._limiters[name]

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Authenticator:
        pem: str | bytes = settings.auth_public_key
        if not pem and settings.auth_public_key_file:
            pem = Path(settings.auth_public_key_file).read_bytes()
        key = keys.parse_public(pem) if pem else None
        if key is None:
            log.warning("auth.no_public_key", detail="every authenticated route answers 401")
        return cls(key, settings.auth_write_rate_per_minute)

    def start(self, service: Service) -> None:
        """Watch the revocation bucket for the service's life (idempotent); also while the
        service waits for its lock (the loop only reads): its API must refuse revoked tokens."""
        if self._watch is None or self._watch.done():
            self._watch = service.supervise("auth_revocations",
                                            lambda: self.revocations.watch(service.bus.js),
                                            fenced=False)

    def verify(self, token: str) -> Principal:
        if self.public_key is None:
            raise tokens.TokenRejected("AUTH_NOT_CONFIGURED", "this service has no public key "
                                       "(ROBSON_AUTH_PUBLIC_KEY_FILE)")
        principal = tokens.verify(self.public_key, token)
        if principal.jti in self.revocations:
            raise tokens.TokenRejected("TOKEN_REVOKED", "the token has been revoked")
        return principal


_by_service: WeakKeyDictionary[Any, Authenticator] = WeakKeyDictionary()


def authenticator_for(service: Service) -> Authenticator:
    if service not in _by_service:
        _by_service[service] = Authenticator.from_settings(service.settings)
    return _by_service[service]


def _unauthorized(code: str, message: str) -> HTTPException:
    return HTTPException(401, {"reason_code": code, "message": message},
                         headers={"WWW-Authenticate": 'Bearer realm="robson"'})


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or is_open(route):
        return None
    service = request.app.state.service
    auth = authenticator_for(service)
    if credentials is None:
        raise _unauthorized("MISSING_TOKEN", "send Authorization: Bearer <token>")
    if service.started:
        auth.start(service)
    try:
        await asyncio.wait_for(auth.revocations.ready.wait(), REVOCATIONS_WAIT_SECONDS)
    except TimeoutError:
        raise HTTPException(503, {"reason_code": "REVOCATIONS_UNAVAILABLE",
                                  "message": "the revocation list could not be loaded"}) from None
    try:
        principal = auth.verify(credentials.credentials)
    except tokens.TokenRejected as exc:
        raise _unauthorized(exc.code, exc.message) from None
    needed = required_scope(route)
    if not principal.has(needed):
        raise HTTPException(403, {"reason_code": "INSUFFICIENT_SCOPE",
                                  "message": f"needs scope {needed.value}; the token has "
                                             f"{', '.join(sorted(s.value for s in principal.scopes))}"})
    account = request.path_params.get("account_id")
    if account is not None and not principal.can_access(account):
        raise HTTPException(404, f"no such account {account}")
    if request.method not in SAFE_METHODS and (wait := auth.limiter.take(principal.jti)) is not None:
        raise HTTPException(429, {"reason_code": "RATE_LIMITED", "message": "too many write requests"},
                            headers={"Retry-After": str(math.ceil(wait))})
    request.state.principal = principal
    return principal


def rate_limit(request: Request, name: str, key: str, per_minute: int) -> None:
    """429 with Retry-After once ``key`` made more than ``per_minute`` requests under ``name``."""
    wait = authenticator_for(request.app.state.service).named_limiter(name, per_minute).take(key)
    if wait is not None:
        raise HTTPException(429, {"reason_code": "RATE_LIMITED", "message": f"too many {name} requests"},
                            headers={"Retry-After": str(math.ceil(wait))})


Authenticated = Depends(authenticate)
