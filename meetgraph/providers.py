"""The provider factory and the database token store: the one place that turns a stored connection into a
CalendarProvider, with the app's settings, cipher, HTTP client, retry policy and refresh locks.

An INACTIVE connection gets no provider (ConnectionInactive: nothing is sent). Exchange calls go through the
connection's LoginGate, and a refused login marks the connection INACTIVE at once, so a changed or expired
password is tried once, not on every page view (which would lock the account out)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import ClassVar, TypeVar

from sqlalchemy import update
from sqlmodel import col, select

from db.engine import begin_write
from db.models import CalendarConnection, ConnectionStatus, InactiveReason
from meetgraph.availability_events import availability_changed
from meetgraph.services import Services
from meetgraph.settings import Settings
from providers.base import (
    AccountLockedOut,
    BusyByCalendar,
    CalendarAccessLost,
    CalendarProvider,
    EventDraft,
    LoginGate,
    ProviderAuthError,
    ProviderCalendar,
    SyncBatch,
    SyncCursorExpired,
)
from providers.oauth import OAuthClientConfig, OAuthToken, TokenManager, TokenStore
from resolvers import notify
from scheduling.calendars import EXCHANGE_CAPABILITIES, Capabilities, ProviderKind
from scheduling.slots import BusyInterval

T = TypeVar("T")

LEAD_SPAN = timedelta(minutes=1)
"""The span of the one view that signs in alone: one short CalendarView request (a page of the items of one
minute), so that the views that follow, in parallel, do not wait for a whole calendar to be read."""

INACTIVE_MESSAGES = {
    InactiveReason.PASSWORD_REFUSED: (
        "Exchange refused the stored password, so it is no longer used; re-enter the password in the calendar "
        "settings to use this calendar again"
    ),
    InactiveReason.ACCOUNT_LOCKED_OUT: (
        "The Exchange account is locked out; once it is unlocked, re-enter its password in the calendar settings"
    ),
    InactiveReason.ACCESS_REVOKED: "Calendar access was revoked; disconnect the calendar and connect it again",
}


class ConnectionInactive(ProviderAuthError):
    """The connection is INACTIVE: nothing was sent to the provider."""

    def __init__(self, reason: InactiveReason | None) -> None:
        super().__init__(INACTIVE_MESSAGES[reason or InactiveReason.ACCESS_REVOKED])
        self.reason = reason


def refusal_reason(exc: ProviderAuthError) -> InactiveReason:
    return InactiveReason.ACCOUNT_LOCKED_OUT if isinstance(exc, AccountLockedOut) else InactiveReason.PASSWORD_REFUSED


async def inactive_reason(services: Services, connection_id: uuid.UUID) -> InactiveReason | None:
    """The stored connection's reason when it is INACTIVE (PASSWORD_REFUSED when it has none), else None."""
    async with services.sessionmaker() as session:
        row = (
            await session.exec(
                select(CalendarConnection.status, CalendarConnection.inactive_reason).where(
                    col(CalendarConnection.id) == connection_id
                )
            )
        ).first()
    if row is None or row[0] is ConnectionStatus.ACTIVE:
        return None
    return InactiveReason(row[1]) if row[1] else InactiveReason.PASSWORD_REFUSED


async def deactivate(
    services: Services, connection_id: uuid.UUID, reason: InactiveReason, *, refused: str | None = None
) -> bool:
    """ACTIVE -> INACTIVE with its reason, and the owner's mail in the same transaction. One conditional update:
    concurrent callers (in any process) make one transition and one mail; True for the one that made it.
    `refused`: the stored (encrypted) credentials the server refused; when the owner has re-entered others since
    (a refusal of the old password arriving late), nothing changes."""
    conditions = [
        col(CalendarConnection.id) == connection_id,
        col(CalendarConnection.status) == ConnectionStatus.ACTIVE,
    ]
    if refused is not None:
        conditions.append(col(CalendarConnection.credentials) == refused)
    async with services.sessionmaker() as session:
        await begin_write(session)
        result = await session.execute(
            update(CalendarConnection)
            .where(*conditions)
            .values(status=ConnectionStatus.INACTIVE, inactive_reason=reason)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return False
        connection = await session.get(CalendarConnection, connection_id)
        assert connection is not None
        await notify.connection_inactive(session, services, connection.user_id, connection.email, reason.value)
        await session.commit()
    services.jobs.kick()
    await availability_changed(services, connection.user_id)
    return True


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
        await deactivate(self.services, self.connection_id, InactiveReason.ACCESS_REVOKED)


class GatedExchangeProvider(CalendarProvider):
    """An Exchange provider whose calls pass the connection's LoginGate; a refused login calls `on_refused`.

    A call that leads sends one request alone first: get_busy reads the first calendar's first span alone, then
    the rest in parallel. So a refused password is sent once per connection, whatever the fan-out."""

    capabilities: ClassVar[Capabilities] = EXCHANGE_CAPABILITIES

    def __init__(
        self,
        inner: CalendarProvider,
        gate: LoginGate,
        *,
        inactive: Callable[[], Awaitable[InactiveReason | None]],
        on_refused: Callable[[ProviderAuthError], Awaitable[object]],
    ) -> None:
        """`inactive`: the stored connection's reason when it is INACTIVE now (asked before each lead)."""
        self._inner = inner
        self._gate = gate
        self._inactive = inactive
        self._on_refused = on_refused

    async def _lead(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            reason = await self._inactive()
            if reason is not None:  # another process refused it meanwhile: do not sign in again
                raise ConnectionInactive(reason)
            result = await fn()
        except BaseException as exc:
            self._gate.led(exc)
            if isinstance(exc, ProviderAuthError):
                await self._on_refused(exc)
            raise
        self._gate.led(None)
        return result

    async def _follow(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except ProviderAuthError as exc:
            self._gate.refused(exc)
            await self._on_refused(exc)
            raise

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        if await self._gate.enter():
            return await self._lead(fn)
        return await self._follow(fn())

    async def account_email(self) -> str:
        return await self._inner.account_email()

    async def list_calendars(self) -> list[ProviderCalendar]:
        return await self._call(self._inner.list_calendars)

    async def get_busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> BusyByCalendar:
        if not await self._gate.enter():
            return await self._follow(self._inner.get_busy(calendar_ids, start, end))
        lead_end = min(end, start + LEAD_SPAN)
        lead = await self._lead(lambda: _busy_or_lost(self._inner.get_busy(calendar_ids[:1], start, lead_end)))
        if isinstance(lead, CalendarAccessLost) and len(calendar_ids) == 1:
            raise lead
        # every view, the first calendar's included, in one call: its views share the mailbox's FindItem budget
        return _merged([lead, await self._follow(_busy_or_lost(self._inner.get_busy(calendar_ids, start, end)))])

    async def sync_events(
        self, calendar_id: str, cursor: str | None, window_start: datetime, window_end: datetime
    ) -> SyncBatch:
        """Gated as get_busy is. A poll (with a cursor) leads with itself: it is one request when nothing changed,
        and an expired cursor is an answer after a login the server accepted. A full sync leads with one short
        CalendarView of the calendar, then runs whole as a follower (its requests in parallel with other calls')."""
        if not await self._gate.enter():
            return await self._follow(self._inner.sync_events(calendar_id, cursor, window_start, window_end))
        if cursor is not None:
            polled = await self._lead(
                lambda: _batch_or_expired(self._inner.sync_events(calendar_id, cursor, window_start, window_end))
            )
            if isinstance(polled, SyncCursorExpired):
                raise polled
            return polled
        lead_end = min(window_end, window_start + LEAD_SPAN)
        lead = await self._lead(lambda: _busy_or_lost(self._inner.get_busy([calendar_id], window_start, lead_end)))
        if isinstance(lead, CalendarAccessLost):
            raise lead
        return await self._follow(self._inner.sync_events(calendar_id, None, window_start, window_end))

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        return await self._call(lambda: self._inner.create_event(calendar_id, draft))

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        await self._call(lambda: self._inner.update_event(calendar_id, event_id, draft))

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        await self._call(lambda: self._inner.delete_event(calendar_id, event_id))

    async def create_calendar(self, name: str) -> ProviderCalendar:
        return await self._call(lambda: self._inner.create_calendar(name))

    async def shared_calendar(self, address: str) -> ProviderCalendar:
        return await self._call(lambda: self._inner.shared_calendar(address))

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _batch_or_expired(call: Awaitable[SyncBatch]) -> SyncBatch | SyncCursorExpired:
    try:
        return await call
    except SyncCursorExpired as expired:
        return expired


async def _busy_or_lost(call: Awaitable[BusyByCalendar]) -> BusyByCalendar | CalendarAccessLost:
    try:
        return await call
    except CalendarAccessLost as lost:
        return lost


def _merged(parts: Sequence[BusyByCalendar | CalendarAccessLost]) -> BusyByCalendar:
    """get_busy's answer from parts of it (by calendar and by time); CalendarAccessLost naming every lost one."""
    lost = [i for part in parts if isinstance(part, CalendarAccessLost) for i in part.calendar_ids]
    if lost:
        raise CalendarAccessLost(list(dict.fromkeys(lost)))
    spans: dict[str, set[BusyInterval]] = {}
    for part in parts:
        assert isinstance(part, BusyByCalendar)
        for calendar_id, intervals in part.intervals.items():
            spans.setdefault(calendar_id, set()).update(intervals)
    return BusyByCalendar({cid: sorted(found, key=lambda i: (i.start, i.end)) for cid, found in spans.items()})


def gate_key(connection: CalendarConnection) -> str:
    """The connection with the credentials it signs in with: re-entered credentials get a fresh gate."""
    return f"{connection.id}:{hashlib.sha256(connection.credentials.encode()).hexdigest()[:32]}"


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
        clock=services.clock,
    )


def get_provider(
    connection: CalendarConnection, services: Services, primary_calendar_id: str | None = None
) -> CalendarProvider:
    """The provider for a stored connection; `primary_calendar_id` (when known) saves catalogue lookups.
    ConnectionInactive for an INACTIVE connection: its credentials are not used until the owner renews them."""
    if connection.status is ConnectionStatus.INACTIVE:
        raise ConnectionInactive(connection.inactive_reason)
    kind = ProviderKind(connection.provider)
    credentials = services.cipher.decrypt(connection.credentials)
    if kind is ProviderKind.EXCHANGE:
        from providers.exchange import ExchangeCalendarProvider, ExchangeCredentials
        from providers.outbound import OutboundPolicy

        connection_id, stored = connection.id, connection.credentials

        async def refused(exc: ProviderAuthError) -> None:
            # shielded: the transition and its mail are committed even when the caller is cancelled meanwhile
            await asyncio.shield(deactivate(services, connection_id, refusal_reason(exc), refused=stored))

        exchange = ExchangeCalendarProvider(
            ExchangeCredentials.from_dict(credentials),
            retry=services.retry,
            accounts=services.exchange_accounts,
            outbound=OutboundPolicy.parse(services.settings.exchange_private_networks),
            ca_bundle=services.settings.exchange_ca_bundle,
            runtime=services.exchange_runtime,
            rediscover=True,
            autodiscover_url=services.settings.exchange_autodiscover_url,
        )
        return GatedExchangeProvider(
            exchange,
            services.login_gates.get(gate_key(connection)),
            inactive=lambda: inactive_reason(services, connection_id),
            on_refused=refused,
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
