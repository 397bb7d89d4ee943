"""HTTP access to the running services, with their error messages surfaced as they were sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from robson_cli.auth import current_token


class ServiceError(RuntimeError):
    """A service answered with an error (or not at all); ``str()`` is the message to show."""

    def __init__(self, service: str, action: str, message: str, status: int | None = None) -> None:
        self.service, self.action, self.status, self.message = service, action, status, message
        code = f" → {status}" if status is not None else ""
        super().__init__(f"{service}: {action}{code}: {message}")


def error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(_field_message(d) for d in detail)
    return detail if isinstance(detail, str) else json.dumps(detail)


def _field_message(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    field = item.get("field") or ".".join(str(p) for p in item.get("loc", ()))
    message = item.get("message") or item.get("msg") or json.dumps(item)
    return f"{field}: {message}" if field else message


class ServiceClient:
    def __init__(self, name: str, base_url: str, timeout: float = 15.0, token: str | None = None) -> None:
        self.name = name
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, timeout=timeout, headers=headers)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None, missing_ok: bool = False) -> Any:
        action = f"{method} {path}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.http.request(method, path, params=query,
                                         json=body if body is not None else None)
        except httpx.HTTPError as exc:
            raise ServiceError(self.name, action, f"unreachable at {self.http.base_url} "
                                                  f"({type(exc).__name__}: {exc})") from None
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ServiceError(self.name, action, error_message(response), response.status_code)
        return response.json() if response.content else None

    def get(self, path: str, params: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        return self.request("GET", path, params=params, missing_ok=missing_ok)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body=body)

    def close(self) -> None:
        self.http.close()


class Services:
    """Clients for every service of one run: ``services["position"].get(...)``."""

    def __init__(self, urls: dict[str, str], token: str | None = None) -> None:
        """``token``: the bearer to send (default: ``robson_cli.auth.current_token()``)."""
        self.urls = urls
        self.token = token or current_token()
        self._clients: dict[str, ServiceClient] = {}

    def __getitem__(self, name: str) -> ServiceClient:
        if name not in self.urls:
            raise ServiceError(name, "connect", "not running (not in this run's services)")
        if name not in self._clients:
            self._clients[name] = ServiceClient(name, self.urls[name], token=self.token)
        return self._clients[name]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_run_file(path: Path) -> dict[str, Any] | None:
    """What `robson up` wrote about the running platform, or None when it is not running."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
