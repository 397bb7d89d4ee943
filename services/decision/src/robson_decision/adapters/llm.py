"""OpenAI-compatible chat completions over httpx (OpenRouter, OpenAI, vLLM, llama.cpp, Ollama).

Transport failures (timeout, connection, HTTP 429 and 5xx) are retried with exponential
backoff and jitter; a ``Retry-After`` (seconds or an HTTP date) on 429/503 is honoured — the
next attempt waits at least that long, and one longer than ``max_retry_after`` gives up at once
(``LLM_RATE_LIMITED``) rather than hold the consumer. After the last attempt ``LlmUnavailable``
says why. Every attempt is reported, so the service can record every model call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from robson_decision.domain.prompts import Prompt


@dataclass(frozen=True)
class Attempt:
    attempt: int
    status: str
    """OK or ERROR."""
    latency_ms: float
    error: str | None = None
    raw_answer: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class Completion:
    content: str
    attempts: list[Attempt] = field(default_factory=list)


class LlmUnavailable(Exception):
    def __init__(self, code: str, detail: str, attempts: list[Attempt] | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.attempts = attempts or []


class _Retryable(Exception):
    def __init__(self, code: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class LlmConfig:
    base_url: str
    api_key: str | None = None
    timeout_seconds: float = 10.0
    max_attempts: int = 3
    backoff_initial: float = 0.2
    backoff_max: float = 2.0
    temperature: float = 0.0
    max_retry_after: float = 10.0
    """Longest ``Retry-After`` waited for; a longer one ends the call (the rules answer)."""


class ChatClient:
    def __init__(self, config: LlmConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self.http = client or httpx.AsyncClient(
            base_url=config.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=config.timeout_seconds,
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def complete(self, prompt: Prompt, model: str, schema: dict[str, Any]) -> Completion:
        body = {
            "model": model,
            "messages": list(prompt.messages),
            "temperature": self.config.temperature,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "trade_decision", "strict": True, "schema": schema},
            },
        }
        attempts: list[Attempt] = []
        backoff = wait_exponential_jitter(
            multiplier=self.config.backoff_initial,
            jitter=self.config.backoff_initial,
            max=self.config.backoff_max,
        )

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            floor = getattr(error, "retry_after", None) or 0.0
            return max(backoff(state), floor)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.max_attempts),
            wait=wait,
            retry=retry_if_exception_type(_Retryable),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    return await self._once(body, number, attempts)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            code = last.code if isinstance(last, _Retryable) else "LLM_FAILED"
            raise LlmUnavailable(
                code, f"{len(attempts)} attempts failed; last: {last}", attempts
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, body: dict[str, Any], number: int, attempts: list[Attempt]) -> Completion:
        started = time.perf_counter()

        def failed(code: str, detail: str, retry: bool, after: float | None = None) -> Exception:
            attempts.append(Attempt(number, "ERROR", _ms(started), f"{code}: {detail}"[:500]))
            if retry:
                return _Retryable(code, detail, after)
            return LlmUnavailable(code, detail, attempts)

        try:
            response = await self.http.post("chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise failed(
                "LLM_TIMEOUT", f"no answer within {self.config.timeout_seconds}s", True
            ) from exc
        except httpx.TransportError as exc:
            raise failed("LLM_UNREACHABLE", repr(exc), True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            code = f"LLM_HTTP_{response.status_code}"
            if after is not None and after > self.config.max_retry_after:
                raise failed("LLM_RATE_LIMITED", f"{code}: Retry-After {after:.0f}s", False)
            raise failed(code, response.text[:200], True, after)
        if response.status_code >= 400:
            raise failed(f"LLM_HTTP_{response.status_code}", response.text[:200], False)
        try:
            payload = response.json()
            content = payload["choices"][0]["message"]["content"]
            usage = payload.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise failed("LLM_BAD_RESPONSE", f"not a chat completion: {exc!r}", False) from exc
        if not isinstance(content, str):
            raise failed("LLM_BAD_RESPONSE", "message content is not text", False)
        attempts.append(
            Attempt(
                number,
                "OK",
                _ms(started),
                raw_answer=content,
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"),
            )
        )
        return Completion(content, attempts)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP date; None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
