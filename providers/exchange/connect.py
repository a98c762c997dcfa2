"""Checking an Exchange account before it is stored: autodiscover, login, version, Calendar folder."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import TypeVar

from providers.base import (
    ProviderAuthError,
    ProviderUnavailable,
    ProviderVersionError,
)
from providers.exchange.credentials import ExchangeCredentials
from providers.exchange.provider import ExchangeCalendarProvider
from providers.exchange.session import (
    ExchangeRuntime,
    NotDiscovered,
    check_version,
    discover_ews_url,
    endpoint_of,
    primary_calendar,
    with_retry,
)
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy

log = logging.getLogger(__name__)


T = TypeVar("T")

UNREACHABLE_MESSAGE = "no Exchange server (EWS) answered at this address; check the EWS URL"
"""The one answer to every failure to reach an EWS endpoint (refused by policy, closed port, not EWS, timeout, DNS):
telling them apart would let any user map the server's network."""


async def connect_exchange(
    credentials: ExchangeCredentials,
    *,
    autodiscover_url: str | None = None,
    retry: RetryPolicy | None = None,
    outbound: OutboundPolicy | None = None,
    runtime: ExchangeRuntime | None = None,
) -> tuple[ExchangeCalendarProvider, ExchangeCredentials]:
    """Validate the credentials against the server before anything is saved.

    Resolves the EWS URL (autodiscover when missing), logs in, requires Exchange 2010 SP2 or later and reads the
    Calendar folder. Returns the provider and the credentials with the resolved EWS URL. Every connection (the EWS
    URL, autodiscover's answer, redirects) is checked against `outbound` (public https only by default). A refused
    login and a too old server have their own errors; any other failure to talk EWS there is one ProviderUnavailable
    with UNREACHABLE_MESSAGE, whatever it was (refused address, closed port, another service, timeout, DNS).
    """
    policy = retry or RetryPolicy()
    guard = outbound or OutboundPolicy()
    resolved = credentials
    if not credentials.ews_url:
        url = await reached(
            discover_ews_url(credentials, autodiscover_url, policy=policy, outbound=guard, runtime=runtime)
        )
        resolved = replace(credentials, ews_url=url)
    provider = ExchangeCalendarProvider(resolved, retry=policy, outbound=guard, runtime=runtime)

    def validate() -> None:
        account = provider._ews()
        check_version(account)
        primary_calendar(account)  # GetFolder: the Calendar folder must be readable

    try:
        endpoint = endpoint_of(resolved.ews_url or "")
        await reached(with_retry(policy, validate, guard, runtime=provider.runtime, endpoint=endpoint))
    except BaseException:
        await provider.aclose()
        raise
    log.info("connected Exchange account %s at %s", resolved.email, resolved.ews_url)
    return provider, resolved


async def reached(step: Awaitable[T]) -> T:
    """`step`'s result; its failures other than a refused login, a too old server or autodiscover finding nothing
    become the one UNREACHABLE_MESSAGE error (the cause is logged, not answered)."""
    try:
        return await step
    except (ProviderAuthError, ProviderVersionError, NotDiscovered):
        raise
    except Exception as exc:
        log.info("Exchange endpoint not reached: %s: %s", type(exc).__name__, exc)
        raise ProviderUnavailable(UNREACHABLE_MESSAGE) from exc
