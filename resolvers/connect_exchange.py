"""Connecting Exchange: email and password (username, EWS URL optional), verified before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from db.models import CalendarConnection
from meetgraph.context import Context
from providers.base import ProviderAuthError, ProviderCalendar, ProviderError, ProviderVersionError
from resolvers.connection_store import Verified, check_not_shared, free_slot, store_connection
from scheduling import connection_rules, validation
from scheduling.calendars import ProviderKind
from scheduling.errors import ExchangeVersion, ProviderFailure

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
        await session.commit()
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
        )
        try:
            calendars = await provider.list_calendars()
        finally:
            await provider.aclose()
    except ProviderVersionError as exc:
        raise ExchangeVersion(exc.message) from exc
    except ProviderAuthError as exc:
        raise ProviderFailure(exc.message) from exc
    except ProviderError as exc:
        raise ProviderFailure(f"Exchange server: {exc.message}") from exc
    return resolved, calendars
