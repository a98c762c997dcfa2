"""HTTP calls to providers, with bounded retries for throttling and transient failures."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from providers.base import ProviderRateLimited, ProviderUnavailable

Sleep = Callable[[float], Awaitable[None]]

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` tries within `total_seconds`; backoff doubles from `base_delay` with jitter."""

    attempts: int = 4
    total_seconds: float = 20.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given 1-based attempt number."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(cap / 2, cap)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header as seconds (delta-seconds or an HTTP date), if present."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _google_reasons(response: httpx.Response) -> set[str]:
    try:
        body = response.json()
    except ValueError:
        return set()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return set()
    return {e.get("reason", "") for e in error.get("errors", []) if isinstance(e, dict)}


def is_throttled(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    return response.status_code == 403 and bool(_google_reasons(response) & RATE_LIMIT_REASONS)


def is_retryable(response: httpx.Response) -> bool:
    return is_throttled(response) or response.status_code >= 500


NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left: the provider cannot have acted on it."""


async def send_with_retry(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    idempotent: bool = True,
    **kwargs: object,
) -> httpx.Response:
    """Send a request, retrying 429 / 403 rate-limit / 5xx / timeouts; other 4xx come back at once.

    `idempotent=False` (a create without an idempotency key, e.g. a POST without Google's `id` or Graph's
    `transactionId`): a request the provider may have acted on is not sent again, so only throttling and
    failures to connect are retried; a timeout, a dropped connection or a 5xx raises ProviderUnavailable.
    Raises ProviderRateLimited or ProviderUnavailable when the retries are used up.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        delay: float
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            failure: Exception = ProviderUnavailable(f"provider unreachable: {type(exc).__name__}")
            if not idempotent and not isinstance(exc, NOT_SENT_ERRORS):
                raise failure from exc
            delay = policy.backoff(attempt)
        else:
            if not is_retryable(response):
                return response
            if not idempotent and not is_throttled(response):
                raise ProviderUnavailable(f"provider error {response.status_code} (not retried: not idempotent)")
            hinted = retry_after_seconds(response)
            if is_throttled(response):
                failure = ProviderRateLimited("provider rate limit exceeded", retry_after=hinted)
            else:
                failure = ProviderUnavailable(f"provider error {response.status_code}")
            delay = hinted if hinted is not None else policy.backoff(attempt)
        elapsed = time.monotonic() - started
        if attempt >= policy.attempts or elapsed + delay > policy.total_seconds:
            raise failure
        await policy.sleep(delay)


class BearerTokens(Protocol):
    """What send_authorized needs of a token manager (providers.oauth.TokenManager)."""

    async def access_token(self) -> str: ...

    async def refresh_after_rejection(self, rejected_access_token: str) -> str: ...


async def send_authorized(
    client: httpx.AsyncClient,
    tokens: BearerTokens,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    headers: Mapping[str, str] | None = None,
    limit: asyncio.Semaphore | None = None,
    idempotent: bool = True,
    **kwargs: object,
) -> httpx.Response:
    """A bearer-token call with retries (see send_with_retry for `idempotent`). A 401 refreshes the token once and
    tries again; a second 401 is returned for the provider to turn into its ProviderAuthError. `limit` caps
    concurrent calls."""
    token = await tokens.access_token()
    for attempt in range(2):
        sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
        if limit is None:
            response = await send_with_retry(
                client, method, url, policy=policy, headers=sent, idempotent=idempotent, **kwargs
            )
        else:
            async with limit:
                response = await send_with_retry(
                    client, method, url, policy=policy, headers=sent, idempotent=idempotent, **kwargs
                )
        if response.status_code != 401 or attempt == 1:
            return response
        token = await tokens.refresh_after_rejection(token)
    raise AssertionError("unreachable")
