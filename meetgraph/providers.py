"""The provider factory and the database token store: the one place that turns a stored connection into a
CalendarProvider, with the app's settings, cipher, HTTP client, retry policy and refresh locks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from db.engine import begin_write
from db.models import CalendarConnection, ConnectionStatus
from meetgraph.services import Services
from meetgraph.settings import Settings
from providers.base import CalendarProvider
from providers.oauth import OAuthClientConfig, OAuthToken, TokenManager, TokenStore
from scheduling.calendars import ProviderKind


def oauth_config(kind: ProviderKind, settings: Settings) -> OAuthClientConfig:
    if kind is ProviderKind.GOOGLE:
        from providers.google import google_oauth_config

        return google_oauth_config(
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret,
            authorize_url=settings.google_auth_url,
            token_url=settings.google_token_url,
        )
    if kind is ProviderKind.OFFICE365:
        from providers.microsoft import microsoft_oauth_config

        return microsoft_oauth_config(
            client_id=settings.microsoft_client_id,
            client_secret=settings.microsoft_client_secret,
            authorize_url=settings.microsoft_auth_url,
            token_url=settings.microsoft_token_url,
        )
    raise ValueError(f"{kind.value} does not connect with OAuth")


class DbTokenStore:
    """A connection's OAuth token, encrypted in its row; refreshes commit on their own session."""

    def __init__(self, services: Services, connection_id: uuid.UUID) -> None:
        self.services = services
        self.connection_id = connection_id

    async def _connection(self) -> CalendarConnection:
        async with self.services.sessionmaker() as session:
            connection = await session.get(CalendarConnection, self.connection_id)
        if connection is None:
            raise LookupError("the connection was removed")
        return connection

    async def load(self) -> OAuthToken:
        connection = await self._connection()
        return OAuthToken.from_dict(self.services.cipher.decrypt(connection.credentials))

    async def save(self, token: OAuthToken) -> None:
        async with self.services.sessionmaker() as session:
            await begin_write(session)
            connection = await session.get(CalendarConnection, self.connection_id)
            if connection is None:
                return
            connection.credentials = self.services.cipher.encrypt(token.to_dict())
            session.add(connection)
            await session.commit()

    async def mark_inactive(self) -> None:
        async with self.services.sessionmaker() as session:
            await begin_write(session)
            connection = await session.get(CalendarConnection, self.connection_id)
            if connection is None:
                return
            connection.status = ConnectionStatus.INACTIVE
            session.add(connection)
            await session.commit()


def oauth_provider(
    kind: ProviderKind,
    token: OAuthToken,
    store: TokenStore,
    services: Services,
    lock_key: str,
    known_primary: tuple[str, str] | None = None,
) -> CalendarProvider:
    """A Google or Office 365 provider whose token lives in `store`."""
    settings = services.settings
    tokens = TokenManager(
        oauth_config(kind, settings),
        store,
        token,
        lock=services.refresh_locks.get(lock_key),
        clock=services.clock,
    )
    if kind is ProviderKind.GOOGLE:
        from providers.google import GoogleCalendarProvider

        return GoogleCalendarProvider(
            tokens,
            api_url=settings.google_api_url,
            userinfo_url=settings.google_userinfo_url,
            retry=services.retry,
            client=services.http,
        )
    from providers.microsoft import MicrosoftCalendarProvider

    return MicrosoftCalendarProvider(
        tokens,
        graph_url=settings.microsoft_graph_url,
        retry=services.retry,
        client=services.http,
        known_primary=known_primary,
    )


def get_provider(
    connection: CalendarConnection, services: Services, primary_calendar_id: str | None = None
) -> CalendarProvider:
    """The provider for a stored connection; `primary_calendar_id` (when known) saves catalogue lookups."""
    kind = ProviderKind(connection.provider)
    credentials = services.cipher.decrypt(connection.credentials)
    if kind is ProviderKind.EXCHANGE:
        from providers.exchange import ExchangeCalendarProvider, ExchangeCredentials
        from providers.outbound import OutboundPolicy

        return ExchangeCalendarProvider(
            ExchangeCredentials.from_dict(credentials),
            retry=services.retry,
            accounts=services.exchange_accounts,
            outbound=OutboundPolicy.parse(services.settings.exchange_private_networks),
            ca_bundle=services.settings.exchange_ca_bundle,
            runtime=services.exchange_runtime,
            rediscover=True,
            autodiscover_url=services.settings.exchange_autodiscover_url,
        )
    return oauth_provider(
        kind,
        OAuthToken.from_dict(credentials),
        DbTokenStore(services, connection.id),
        services,
        lock_key=str(connection.id),
        known_primary=(connection.email, primary_calendar_id) if primary_calendar_id else None,
    )


@asynccontextmanager
async def provider_for(
    connection: CalendarConnection, services: Services, primary_calendar_id: str | None = None
) -> AsyncIterator[CalendarProvider]:
    """get_provider, closed when the block ends."""
    provider = get_provider(connection, services, primary_calendar_id)
    try:
        yield provider
    finally:
        await provider.aclose()
