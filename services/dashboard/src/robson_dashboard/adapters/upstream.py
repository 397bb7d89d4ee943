"""The six services' HTTP APIs, called with the signed-in user's bearer token (never a wider one)."""

from __future__ import annotations

from typing import Any

import httpx


class UpstreamUnavailable(Exception):
    def __init__(self, service: str, error: str) -> None:
        super().__init__(f"{service} is unreachable: {error}")
        self.service = service


class TokenRefused(Exception):
    """A service answered 401: it no longer takes the token (revoked, expired, never valid)."""

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} refused the token")
        self.service = service


def auth_headers(token: str | None) -> dict[str, str]:
    """The only place a token becomes a header: with auth on, services enforce its scopes."""
    return {"Authorization": f"Bearer {token}"} if token else {}


class Upstreams:
    def __init__(self, urls: dict[str, str], timeout: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.urls = urls
        self._http = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=50),
                                       transport=transport)

    def known(self, service: str) -> bool:
        return service in self.urls

    async def call(self, service: str, method: str, path: str, token: str | None, *,
                   params: Any = None, body: Any = None) -> httpx.Response:
        try:
            return await self._http.request(method, self.urls[service] + path, params=params,
                                            json=body, headers=auth_headers(token))
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(service, type(exc).__name__) from exc

    async def get_json(self, service: str, path: str, token: str | None, **params: Any) -> Any:
        """The body of a 200, else None (a 401/403/404 means "not for this user" here)."""
        try:
            return await self.read_json(service, path, token, **params)
        except TokenRefused:
            return None

    async def read_json(self, service: str, path: str, token: str | None, **params: Any) -> Any:
        """The body of a 200, else None (a 403/404: not for this user); a 401 raises ``TokenRefused``."""
        response = await self.call(service, "GET", path, token,
                                   params={k: v for k, v in params.items() if v is not None})
        if response.status_code == 401:
            raise TokenRefused(service)
        return response.json() if response.status_code == 200 else None

    async def close(self) -> None:
        await self._http.aclose()
