"""Checking an Exchange account before it is stored: autodiscover, login, version, Calendar folder."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import TypeVar

from providers.base import (
    CertificateNotTrusted,
    EndpointUnreachable,
    ExchangeOnlineAccount,
    MailboxTemporarilyUnavailable,
    NotAnExchangeEndpoint,
    ProviderAuthError,
    ProviderVersionError,
)
from providers.exchange.credentials import ExchangeCredentials
from providers.exchange.errors import EXCHANGE_ONLINE, is_exchange_online, is_exchange_online_mailbox
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
"""The one answer to every failure to reach an EWS endpoint (refused by policy, closed port, timeout, DNS): telling
them apart would let any user map the server's network."""
ANSWERED = (
    ProviderAuthError,
    ProviderVersionError,
    NotDiscovered,
    CertificateNotTrusted,
    NotAnExchangeEndpoint,
    MailboxTemporarilyUnavailable,
)
"""Failures told as they are: each needs a connection the outbound policy allowed, to the host the user named (or
autodiscover found), and says only what that server itself answered once connected (its certificate, its HTTP
answer, the logins it offers); nothing about addresses that could not be reached."""


async def connect_exchange(
    credentials: ExchangeCredentials,
    *,
    autodiscover_url: str | None = None,
    retry: RetryPolicy | None = None,
    outbound: OutboundPolicy | None = None,
    ca_bundle: str | None = None,
    runtime: ExchangeRuntime | None = None,
) -> tuple[ExchangeCalendarProvider, ExchangeCredentials]:
    """Validate the credentials against the server before anything is saved.

    Resolves the EWS URL (autodiscover when missing), logs in, requires Exchange 2010 SP2 or later and reads the
    Calendar folder. Returns the provider and the credentials with the resolved EWS URL. Every connection (the EWS
    URL, autodiscover's answer, redirects) is checked against `outbound` (public https only by default) and trusts
    `ca_bundle`'s CAs besides the system's. An Exchange Online mailbox (its EWS host, or a mail domain only Exchange
    Online serves) is refused before any network call, and so is an EWS URL autodiscover finds there: they connect as
    Office 365. What the server answered once connected has its own error (ANSWERED); any other failure to talk EWS
    is one EndpointUnreachable with UNREACHABLE_MESSAGE (refused address, closed port, timeout, DNS).
    """
    policy = retry or RetryPolicy()
    guard = outbound or OutboundPolicy()
    check_not_exchange_online(credentials)
    resolved = credentials
    if not credentials.ews_url:
        url = await reached(
            discover_ews_url(
                credentials, autodiscover_url, policy=policy, outbound=guard, runtime=runtime, ca_bundle=ca_bundle
            )
        )
        resolved = replace(credentials, ews_url=url)
        check_not_exchange_online(resolved)
    provider = ExchangeCalendarProvider(resolved, retry=policy, outbound=guard, ca_bundle=ca_bundle, runtime=runtime)

    def validate() -> None:
        account = provider._ews()
        check_version(account)
        primary_calendar(account)  # GetFolder: the Calendar folder must be readable

    try:
        endpoint = endpoint_of(resolved.ews_url or "")
        await reached(
            with_retry(policy, validate, guard, runtime=provider.runtime, endpoint=endpoint, ca_bundle=ca_bundle)
        )
    except BaseException:
        await provider.aclose()
        raise
    log.info("connected Exchange account %s at %s", resolved.email, resolved.ews_url)
    return provider, resolved


def check_not_exchange_online(credentials: ExchangeCredentials) -> None:
    """ExchangeOnlineAccount when the EWS URL or the mail domain is Exchange Online's (no network call)."""
    if (credentials.ews_url and is_exchange_online(credentials.ews_url)) or is_exchange_online_mailbox(
        credentials.email
    ):
        raise ExchangeOnlineAccount(EXCHANGE_ONLINE)


async def reached(step: Awaitable[T]) -> T:
    """`step`'s result; its failures other than what the connected server answered (ANSWERED) become the one
    UNREACHABLE_MESSAGE error (the cause is logged, not answered)."""
    try:
        return await step
    except ANSWERED:
        raise
    except Exception as exc:
        log.info("Exchange endpoint not reached: %s: %s", type(exc).__name__, exc)
        raise EndpointUnreachable(UNREACHABLE_MESSAGE) from exc
