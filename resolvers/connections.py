"""Connecting calendars: OAuth start and callback, Exchange, disconnecting, the inbox that comes along."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import (
    Calendar,
    CalendarConnection,
    CalendarSettings,
    EmailInbox,
    OAuthState,
    User,
)
from meetgraph.context import Context
from meetgraph.services import Services
from providers.base import (
    ProviderAuthError,
    ProviderCalendar,
    ProviderError,
    ProviderKind,
    ProviderVersionError,
)
from providers.factory import oauth_config, oauth_provider
from providers.oauth import MemoryTokenStore, authorization_url, exchange_code, new_code_verifier
from resolvers import validation
from resolvers.errors import (
    ConnectionLimit,
    ExchangeVersion,
    InvalidInput,
    NotFound,
    PermissionRequired,
    ProviderFailure,
    SharedInbox,
    UserError,
)
from resolvers.ids import parse_id
from resolvers.settings import load_settings

log = logging.getLogger("meetgraph.connections")

MAX_PASSWORD = 1024
PERMISSION_MESSAGE = "Connecting a calendar needs the personal email access permission."


def callback_url(services: Services, kind: ProviderKind) -> str:
    return f"{services.settings.public_url.rstrip('/')}/oauth/callback/{kind.value.lower()}"


def dashboard_url(services: Services, **outcome: str) -> str:
    base = services.settings.resolved_dashboard_url()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(outcome)}"


# rules ---------------------------------------------------------------------
def check_permission(user: User) -> None:
    if not user.personal_email_access:
        raise PermissionRequired(PERMISSION_MESSAGE)


async def free_slot(session: AsyncSession, user: User) -> int:
    """The connection slot a new connection takes; ConnectionLimit when the user has none left."""
    taken = set(
        (await session.exec(select(CalendarConnection.slot).where(CalendarConnection.user_id == user.id))).all()
    )
    allowed = (1, 2) if user.may_hold_two_connections else (1,)
    for slot in allowed:
        if slot not in taken and len(taken) < len(allowed):
            return slot
    if user.may_hold_two_connections:
        raise ConnectionLimit("Users created before 2023-03-13 may connect at most two calendar accounts.")
    raise ConnectionLimit("Only one calendar account can be connected; disconnect the current one first.")


async def check_not_shared(session: AsyncSession, user: User, address: str) -> None:
    inbox = (
        await session.exec(
            select(EmailInbox).where(EmailInbox.account_id == user.account_id, EmailInbox.address == address)
        )
    ).first()
    if inbox is not None and inbox.shared:
        raise SharedInbox(f"{address} is connected as a shared inbox; only personal inboxes can be connected.")
    if inbox is not None and inbox.user_id not in (None, user.id):
        raise InvalidInput(f"{address} is another user's inbox", field="email")


# storing -------------------------------------------------------------------
@dataclass(frozen=True)
class Verified:
    """What a provider confirmed about an account before anything is stored."""

    kind: ProviderKind
    email: str
    credentials: Mapping[str, object]
    calendars: Sequence[ProviderCalendar]


async def store_connection(
    session: AsyncSession, services: Services, user_id: uuid.UUID, verified: Verified
) -> CalendarConnection:
    """Re-check every rule in the transaction, then write connection, calendars, inbox and defaults."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    check_permission(user)
    email = verified.email.lower()
    await check_not_shared(session, user, email)
    connection = CalendarConnection(
        user_id=user.id,
        slot=await free_slot(session, user),
        provider=verified.kind.value,
        email=email,
        credentials=services.cipher.encrypt(verified.credentials),
        created_at=services.clock(),
    )
    session.add(connection)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent connect took the slot
        await session.rollback()
        raise ConnectionLimit("Only one calendar account can be connected.") from None
    for calendar in verified.calendars:
        session.add(
            Calendar(
                connection_id=connection.id,
                provider_calendar_id=calendar.id,
                name=calendar.name[:500],
                is_primary=calendar.is_primary,
                access_role=calendar.access_role.value,
            )
        )
    inbox = (
        await session.exec(
            select(EmailInbox).where(EmailInbox.account_id == user.account_id, EmailInbox.address == email)
        )
    ).first()
    if inbox is None:
        inbox = EmailInbox(account_id=user.account_id, user_id=user.id, address=email, created_at=services.clock())
    inbox.connection_id = connection.id
    session.add(inbox)
    if verified.kind is not ProviderKind.EXCHANGE:
        settings = await load_settings(session, user.id)
        settings.calendar_sync = True
        settings.scheduling_pages_enabled = True
        session.add(settings)
    await session.flush()
    return connection


# OAuth ---------------------------------------------------------------------
async def start_oauth(ctx: Context, kind: ProviderKind) -> str:
    """The provider's authorization URL, with a signed single-use state bound to the caller, and PKCE."""
    user = ctx.require_user()
    check_permission(user)
    if kind is ProviderKind.EXCHANGE:
        raise InvalidInput("Exchange connects with connectExchangeCalendar", field="provider")
    services = ctx.services
    nonce = secrets.token_urlsafe(24)
    verifier = new_code_verifier()
    async with ctx.db() as session:
        await free_slot(session, user)
        # states live minutes; drop the expired ones (used or abandoned) as new flows start
        await session.exec(delete(OAuthState).where(col(OAuthState.expires_at) < ctx.now()))  # type: ignore[call-overload]
        session.add(
            OAuthState(
                nonce=nonce,
                user_id=user.id,
                provider=kind.value,
                code_verifier=verifier,
                expires_at=ctx.now() + timedelta(seconds=services.settings.oauth_state_ttl_seconds),
            )
        )
        await session.commit()
    state = services.signer.dumps({"n": nonce, "u": str(user.id), "p": kind.value})
    return authorization_url(
        oauth_config(kind, services.settings),
        redirect_uri=callback_url(services, kind),
        state=state,
        code_verifier=verifier,
    )


async def _claim_state(services: Services, kind: ProviderKind, state: str) -> OAuthState:
    """Mark the state used (once, atomically); unknown, forged, reused or expired states are refused."""
    try:
        payload = services.signer.loads(state, max_age=services.settings.oauth_state_ttl_seconds)
    except BadSignature:
        raise InvalidInput("invalid_state") from None
    if not isinstance(payload, dict) or payload.get("p") != kind.value:
        raise InvalidInput("invalid_state")
    now = services.clock()
    async with services.sessionmaker() as session:
        claimed = await session.exec(  # type: ignore[call-overload]
            update(OAuthState)
            .where(
                col(OAuthState.nonce) == payload.get("n"),
                col(OAuthState.used_at).is_(None),
                col(OAuthState.expires_at) > now,
                col(OAuthState.provider) == kind.value,
            )
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            raise InvalidInput("invalid_state")
        row = (await session.exec(select(OAuthState).where(OAuthState.nonce == payload.get("n")))).one()
        await session.commit()
    if str(row.user_id) != payload.get("u"):
        raise InvalidInput("invalid_state")
    return row


async def finish_oauth(services: Services, kind_slug: str, params: dict[str, str]) -> str:
    """Handle the provider's redirect; returns where to send the browser (the dashboard, with the outcome)."""
    try:
        kind = ProviderKind(kind_slug.upper())
    except ValueError:
        return dashboard_url(services, error="unknown_provider")
    if kind is ProviderKind.EXCHANGE:
        return dashboard_url(services, error="unknown_provider")
    try:
        claimed = await _claim_state(services, kind, params.get("state", ""))
    except InvalidInput:
        return dashboard_url(services, provider=kind.value, error="invalid_state")
    if "error" in params or not params.get("code"):
        return dashboard_url(services, provider=kind.value, error=params.get("error") or "missing_code")
    try:
        connection = await _connect_oauth(services, kind, claimed, params["code"])
    except UserError as exc:
        return dashboard_url(services, provider=kind.value, error=type(exc).__name__, message=exc.message)
    return dashboard_url(services, provider=kind.value, connected=str(connection.id))


async def _connect_oauth(
    services: Services, kind: ProviderKind, claimed: OAuthState, code: str
) -> CalendarConnection:
    try:
        token = await exchange_code(
            oauth_config(kind, services.settings),
            code=code,
            redirect_uri=callback_url(services, kind),
            code_verifier=claimed.code_verifier,
            now=services.clock(),
        )
    except ProviderError as exc:
        raise ProviderFailure(f"The provider refused the authorization: {exc.message}") from exc
    provider = oauth_provider(kind, token, MemoryTokenStore(token), services, lock_key=f"new:{claimed.nonce}")
    try:
        email = await provider.account_email()
        calendars = await provider.list_calendars()
    except ProviderError as exc:
        raise ProviderFailure(f"Reading the account failed: {exc.message}") from exc
    finally:
        await provider.aclose()
    verified = Verified(kind=kind, email=email, credentials=dict(token.to_dict()), calendars=calendars)
    async with services.sessionmaker() as session:
        connection = await store_connection(session, services, claimed.user_id, verified)
        await session.commit()
    log.info("user %s connected %s account", claimed.user_id, kind.value)
    return connection


# Exchange ------------------------------------------------------------------
@dataclass(frozen=True)
class ExchangeInput:
    email: str
    password: str
    username: str | None
    ews_url: str | None


def _ews_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2000:
        raise InvalidInput("ewsUrl must be an http(s) URL", field="ewsUrl")
    return value.strip()


async def connect_exchange(ctx: Context, data: ExchangeInput) -> CalendarConnection:
    """Validate against the Exchange server (login, version, calendar) before anything is stored."""
    from providers.exchange import ExchangeCredentials
    from providers.exchange import connect_exchange as verify

    user = ctx.require_user()
    check_permission(user)
    email = validation.email(data.email)
    if not data.password:
        raise InvalidInput("password must not be empty", field="password")
    if len(data.password) > MAX_PASSWORD:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD} characters", field="password")
    username = validation.text(data.username, "username", max_length=254) if data.username else None
    ews_url = _ews_url(data.ews_url)
    async with ctx.db() as session:
        await free_slot(session, user)
        await check_not_shared(session, user, email)
    credentials = ExchangeCredentials(email=email, password=data.password, username=username, ews_url=ews_url)
    try:
        provider, resolved = await verify(
            credentials, autodiscover_url=ctx.services.settings.exchange_autodiscover_url, retry=ctx.services.retry
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
    verified = Verified(
        kind=ProviderKind.EXCHANGE, email=email, credentials=resolved.to_dict(), calendars=calendars
    )
    async with ctx.db() as session:
        connection = await store_connection(session, ctx.services, user.id, verified)
        await session.commit()
    return connection


# disconnecting ---------------------------------------------------------------
async def disconnect_calendar(ctx: Context, connection_id: str) -> uuid.UUID:
    user = ctx.require_user()
    key = parse_id(connection_id, "calendar connection")
    async with ctx.db() as session:
        connection = await session.get(CalendarConnection, key)
        if connection is None or connection.user_id != user.id:
            raise NotFound("calendar connection not found")
        held = (
            await session.exec(select(CalendarConnection.id).where(CalendarConnection.user_id == user.id))
        ).all()
        owner = await session.get(User, user.id)
        assert owner is not None
        if len(held) > 1:
            owner.legacy_dual_forfeited = True  # the one-account rule applies from now on
            session.add(owner)
        remaining = [c for c in held if c != key]
        await session.delete(connection)
        if not remaining:
            settings = await session.get(CalendarSettings, user.id)
            if settings is not None:
                settings.calendar_sync = False
                settings.task_sync = False
                session.add(settings)
        await session.commit()
    return key


async def disconnect_inbox(ctx: Context, inbox_id: str) -> uuid.UUID:
    """Disconnect a personal inbox; its calendar stays connected."""
    user = ctx.require_user()
    key = parse_id(inbox_id, "email inbox")
    async with ctx.db() as session:
        inbox = await session.get(EmailInbox, key)
        if inbox is None or inbox.user_id != user.id:
            raise NotFound("email inbox not found")
        await session.delete(inbox)
        await session.commit()
    return key


async def connect_shared_inbox(ctx: Context, address: str) -> EmailInbox:
    """Connect a team address as a shared inbox of the account (such addresses can't be calendars)."""
    user = ctx.require_user()
    check_permission(user)
    email = validation.email(address, "address")
    async with ctx.db() as session:
        existing = (
            await session.exec(
                select(EmailInbox).where(EmailInbox.account_id == user.account_id, EmailInbox.address == email)
            )
        ).first()
        if existing is not None:
            raise InvalidInput(f"{email} is already connected", field="address")
        inbox = EmailInbox(
            account_id=user.account_id, user_id=user.id, address=email, shared=True, created_at=ctx.now()
        )
        session.add(inbox)
        await session.commit()
    return inbox


