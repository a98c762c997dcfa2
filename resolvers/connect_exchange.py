"""Connecting Exchange: email and password (username, EWS URL optional), verified before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from db.models import CalendarConnection
from meetgraph import sync
from meetgraph.context import Context
from providers.base import (
    AccountDisabled,
    AccountLockedOut,
    AuthMethodUnsupported,
    CertificateNotTrusted,
    EndpointUnreachable,
    ExchangeOnlineAccount,
    ModernAuthOnly,
    NotAnExchangeEndpoint,
    ProviderAuthError,
    ProviderCalendar,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    ProviderVersionError,
)
from resolvers.connection_store import Verified, check_not_shared, free_slot, store_connection
from scheduling import connection_rules, validation
from scheduling.calendars import ProviderKind
from scheduling.errors import ExchangeVersion, ProviderFailure, ProviderFailureReason

REASONS: tuple[tuple[type[ProviderError], ProviderFailureReason], ...] = (
    (ExchangeOnlineAccount, ProviderFailureReason.EXCHANGE_ONLINE),
    (ModernAuthOnly, ProviderFailureReason.MODERN_AUTH_ONLY),
    (AuthMethodUnsupported, ProviderFailureReason.UNSUPPORTED_AUTHENTICATION),
    (AccountDisabled, ProviderFailureReason.ACCOUNT_DISABLED),
    (AccountLockedOut, ProviderFailureReason.ACCOUNT_LOCKED_OUT),
    (ProviderAuthError, ProviderFailureReason.LOGIN_REFUSED),
    (CertificateNotTrusted, ProviderFailureReason.CERTIFICATE_NOT_TRUSTED),
    (NotAnExchangeEndpoint, ProviderFailureReason.NOT_EXCHANGE_ENDPOINT),
    (EndpointUnreachable, ProviderFailureReason.UNREACHABLE),
    (ProviderRateLimited, ProviderFailureReason.TEMPORARILY_UNAVAILABLE),
)
"""The reason answered for a provider error: the first entry it is an instance of (most specific first)."""

if TYPE_CHECKING:
    from providers.exchange import ExchangeCredentials


@dataclass(frozen=True)
class ExchangeInput:
    email: str
    password: str
    username: str | None
    ews_url: str | None


async def connect_exchange(ctx: Context, data: ExchangeInput) -> CalendarConnection:
    """Validate against the Exchange server (login, version, calendar) before anything is stored."""
    from providers.exchange import ExchangeCredentials

    user = ctx.require_user()
    connection_rules.check_permission(user.personal_email_access)
    email = validation.email(data.email)
    connection_rules.check_exchange_password(data.password)
    username = validation.text(data.username, "username", max_length=254) if data.username else None
    ews_url = connection_rules.ews_url(data.ews_url)
    async with ctx.db() as session:
        await free_slot(session, user)
        await check_not_shared(session, user, email)
    credentials = ExchangeCredentials(email=email, password=data.password, username=username, ews_url=ews_url)
    resolved, calendars = await verify(ctx, credentials)
    verified = Verified(kind=ProviderKind.EXCHANGE, email=email, credentials=resolved.to_dict(), calendars=calendars)
    async with ctx.db() as session:
        connection = await store_connection(session, ctx.services, user.id, verified)
        await sync.enqueue_connection_syncs(session, connection.id, now=ctx.services.clock())
        await session.commit()
    ctx.services.jobs.kick()
    return connection


async def verify(ctx: Context, credentials: ExchangeCredentials) -> tuple[ExchangeCredentials, list[ProviderCalendar]]:
    """Check the account at the server (login, version, calendars); the credentials with the resolved EWS URL and
    the calendars, or the typed error (ExchangeVersion, ProviderFailure) that connecting answers."""
    from providers.exchange import connect_exchange as check
    from providers.outbound import OutboundPolicy

    try:
        settings = ctx.services.settings
        provider, resolved = await check(
            credentials,
            autodiscover_url=settings.exchange_autodiscover_url,
            retry=ctx.services.retry,
            outbound=OutboundPolicy.parse(settings.exchange_private_networks),
            ca_bundle=settings.exchange_ca_bundle,
            runtime=ctx.services.exchange_runtime,
        )
        try:
            calendars = await provider.list_calendars()
        finally:
            await provider.aclose()
    except ProviderVersionError as exc:
        raise ExchangeVersion(exc.message) from exc
    except ProviderError as exc:
        raise ProviderFailure(exc.message, reason_for(exc)) from exc
    return resolved, calendars


def reason_for(exc: ProviderError) -> ProviderFailureReason | None:
    """Why the server refused, as answered to the user (None when nothing more can be said)."""
    for kind, reason in REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, ProviderUnavailable):
        return ProviderFailureReason.TEMPORARILY_UNAVAILABLE
    return None
