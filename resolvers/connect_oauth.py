"""Connecting Google and Office 365: the authorization URL (signed single-use state, PKCE) and the callback."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from itsdangerous import BadSignature
from sqlalchemy import delete, update
from sqlmodel import col, select

from db.models import CalendarConnection, OAuthState
from meetgraph.context import Context
from meetgraph.providers import oauth_config, oauth_provider
from meetgraph.services import Services
from providers.base import ProviderError
from providers.oauth import MemoryTokenStore, authorization_url, exchange_code, new_code_verifier
from resolvers.connection_store import Verified, free_slot, store_connection
from scheduling import connection_rules
from scheduling.calendars import ProviderKind
from scheduling.errors import InvalidInput, ProviderFailure, UserError

log = logging.getLogger("meetgraph.connections")


def callback_url(services: Services, kind: ProviderKind) -> str:
    return f"{services.settings.public_url.rstrip('/')}/oauth/callback/{kind.value.lower()}"


def dashboard_url(services: Services, **outcome: str) -> str:
    base = services.settings.resolved_dashboard_url()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(outcome)}"


async def start_oauth(ctx: Context, kind: ProviderKind) -> str:
    """The provider's authorization URL, with a signed single-use state bound to the caller, and PKCE."""
    user = ctx.require_user()
    connection_rules.check_permission(user.personal_email_access)
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


async def _connect_oauth(services: Services, kind: ProviderKind, claimed: OAuthState, code: str) -> CalendarConnection:
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
