"""Connecting Google and Office 365: our authorization URL, which binds the flow to the browser that opens it
(a cookie), then the provider (signed single-use state, PKCE), and the callback, which needs that cookie."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature
from sqlalchemy import delete, update
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from db.engine import begin_write
from db.models import CalendarConnection, OAuthState
from meetgraph import sync
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

BROWSER_COOKIE_PREFIX = "meetgraph_oauth_"
WRONG_BROWSER = "wrong_browser"
"""The dashboard's error when the callback (or a second opening) comes from a browser the flow is not bound to."""


def callback_url(services: Services, kind: ProviderKind) -> str:
    return f"{services.settings.public_url.rstrip('/')}/oauth/callback/{kind.value.lower()}"


def dashboard_url(services: Services, **outcome: str) -> str:
    base = services.settings.resolved_dashboard_url()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(outcome)}"


def start_url(services: Services, nonce: str) -> str:
    """The authorization URL we hand out: a page of our own that binds the flow to the browser opening it."""
    return f"{services.settings.public_url.rstrip('/')}/oauth/start/{nonce}"


def browser_cookie_name(nonce: str) -> str:
    """One cookie per flow, so two flows started in two tabs of one browser do not displace each other."""
    return f"{BROWSER_COOKIE_PREFIX}{nonce}"


def _hash_browser_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class BrowserRedirect:
    """Where the browser goes next, and the flow's cookie to set (name, value) or to clear (name)."""

    location: str
    set_cookie: tuple[str, str] | None = None
    clear_cookie: str | None = None


def _same_origin_browser(ctx: Context) -> bool:
    """Whether the request comes from a page of this server's own origin in a browser (the dashboard served
    with the API, GraphiQL): such a browser keeps the cookies our answer sets."""
    request = ctx.request
    if not isinstance(request, Request):
        return False
    if request.headers.get("sec-fetch-site") == "same-origin":
        return True
    public = urlsplit(ctx.services.settings.public_url)
    return request.headers.get("origin") == f"{public.scheme}://{public.netloc}"


def set_flow_cookie(services: Services, response: Response, name: str, value: str) -> None:
    """The flow's cookie: HttpOnly, Lax (it must come back on the provider's top-level redirect to the
    callback), Secure on https, scoped to /oauth/, alive as long as the state."""
    path, secure = _cookie_scope(services)
    max_age = services.settings.oauth_state_ttl_seconds
    response.set_cookie(name, value, max_age=max_age, path=path, secure=secure, httponly=True, samesite="lax")


def clear_flow_cookie(services: Services, response: Response, name: str) -> None:
    path, secure = _cookie_scope(services)
    response.delete_cookie(name, path=path, secure=secure, httponly=True, samesite="lax")


def _cookie_scope(services: Services) -> tuple[str, bool]:
    public = urlsplit(services.settings.public_url)
    return f"{public.path.rstrip('/')}/oauth/", public.scheme == "https"


async def start_oauth(ctx: Context, kind: ProviderKind) -> str:
    """Our authorization URL (see start_url) for a new single-use state bound to the caller, with PKCE.

    Asked from a browser on this server's own origin, the flow is bound to that browser at once (its cookie
    comes with this answer), so the URL works nowhere else, not even in a browser that opens it first.
    Asked by anything else (a CRM backend, a script), the first browser to open the URL owns the flow."""
    user = ctx.require_user()
    connection_rules.check_permission(user.personal_email_access)
    if kind is ProviderKind.EXCHANGE:
        raise InvalidInput("Exchange connects with connectExchangeCalendar", field="provider")
    services = ctx.services
    nonce = secrets.token_urlsafe(24)
    browser_secret = secrets.token_urlsafe(32) if _same_origin_browser(ctx) else None
    async with ctx.db() as session:
        await free_slot(session, user)
        # states live minutes; drop the expired ones (used or abandoned) as new flows start
        await session.exec(delete(OAuthState).where(col(OAuthState.expires_at) < ctx.now()))  # type: ignore[call-overload]
        session.add(
            OAuthState(
                nonce=nonce,
                user_id=user.id,
                provider=kind.value,
                code_verifier=new_code_verifier(),
                expires_at=ctx.now() + timedelta(seconds=services.settings.oauth_state_ttl_seconds),
                browser_hash=_hash_browser_secret(browser_secret) if browser_secret else None,
            )
        )
        await session.commit()
    if browser_secret and isinstance(ctx.response, Response):
        set_flow_cookie(services, ctx.response, browser_cookie_name(nonce), browser_secret)
    return start_url(services, nonce)


async def open_oauth(services: Services, nonce: str, cookies: Mapping[str, str]) -> BrowserRedirect:
    """A browser opens our authorization URL: the first browser to open it owns the flow (it gets a cookie
    whose hash the state keeps) and goes on to the provider; that browser may open it again, others may not."""
    now = services.clock()
    live = (
        col(OAuthState.nonce) == nonce,
        col(OAuthState.used_at).is_(None),
        col(OAuthState.expires_at) > now,
    )
    cookie = browser_cookie_name(nonce)
    secret = secrets.token_urlsafe(32)
    async with services.sessionmaker() as session:
        await begin_write(session)
        bound = await session.exec(  # type: ignore[call-overload]
            update(OAuthState)
            .where(*live, col(OAuthState.browser_hash).is_(None))
            .values(browser_hash=_hash_browser_secret(secret))
        )
        row = (await session.exec(select(OAuthState).where(*live))).one_or_none()
        await session.commit()
    if row is None:
        return BrowserRedirect(dashboard_url(services, error="invalid_state"))
    kind = ProviderKind(row.provider)
    if bound.rowcount == 1:
        return BrowserRedirect(_provider_url(services, kind, row), set_cookie=(cookie, secret))
    if row.browser_hash and hmac.compare_digest(row.browser_hash, _hash_browser_secret(cookies.get(cookie, ""))):
        return BrowserRedirect(_provider_url(services, kind, row))
    log.warning("an authorization URL of user %s was opened in a second browser: refused", row.user_id)
    return BrowserRedirect(dashboard_url(services, provider=kind.value, error=WRONG_BROWSER))


def _provider_url(services: Services, kind: ProviderKind, row: OAuthState) -> str:
    state = services.signer.dumps({"n": row.nonce, "u": str(row.user_id), "p": kind.value})
    return authorization_url(
        oauth_config(kind, services.settings),
        redirect_uri=callback_url(services, kind),
        state=state,
        code_verifier=row.code_verifier,
    )


def _state_nonce(services: Services, kind: ProviderKind, state: str) -> tuple[str, str]:
    """The nonce and user id a state carries; forged, expired or other-provider states are refused."""
    try:
        payload = services.signer.loads(state, max_age=services.settings.oauth_state_ttl_seconds)
    except BadSignature:
        raise InvalidInput("invalid_state") from None
    if not isinstance(payload, dict) or payload.get("p") != kind.value:
        raise InvalidInput("invalid_state")
    nonce, user_id = payload.get("n"), payload.get("u")
    if not isinstance(nonce, str) or not isinstance(user_id, str):
        raise InvalidInput("invalid_state")
    return nonce, user_id


async def _claim_state(
    services: Services, kind: ProviderKind, nonce: str, user_id: str, browser_secret: str
) -> OAuthState:
    """Mark the state used (once, atomically) when the browser's cookie is the one the state is bound to;
    unknown, reused or expired states are refused (invalid_state), other browsers too (wrong_browser)."""
    now = services.clock()
    live = (
        col(OAuthState.nonce) == nonce,
        col(OAuthState.used_at).is_(None),
        col(OAuthState.expires_at) > now,
        col(OAuthState.provider) == kind.value,
    )
    async with services.sessionmaker() as session:
        await begin_write(session)
        claimed = await session.exec(  # type: ignore[call-overload]
            update(OAuthState)
            .where(*live, col(OAuthState.browser_hash) == _hash_browser_secret(browser_secret))
            .values(used_at=now)
        )
        row = (await session.exec(select(OAuthState).where(OAuthState.nonce == nonce))).one_or_none()
        await session.commit()
    if claimed.rowcount != 1:
        usable = row is not None and row.used_at is None and row.expires_at > now
        raise InvalidInput(WRONG_BROWSER if usable else "invalid_state")
    assert row is not None
    if str(row.user_id) != user_id:
        raise InvalidInput("invalid_state")
    return row


async def finish_oauth(
    services: Services, kind_slug: str, params: Mapping[str, str], cookies: Mapping[str, str]
) -> BrowserRedirect:
    """Handle the provider's redirect; returns where to send the browser (the dashboard, with the outcome)."""
    try:
        kind = ProviderKind(kind_slug.upper())
    except ValueError:
        return BrowserRedirect(dashboard_url(services, error="unknown_provider"))
    if kind is ProviderKind.EXCHANGE:
        return BrowserRedirect(dashboard_url(services, error="unknown_provider"))
    try:
        nonce, user_id = _state_nonce(services, kind, params.get("state", ""))
    except InvalidInput:
        return BrowserRedirect(dashboard_url(services, provider=kind.value, error="invalid_state"))
    cookie = browser_cookie_name(nonce)
    try:
        claimed = await _claim_state(services, kind, nonce, user_id, cookies.get(cookie, ""))
    except InvalidInput as exc:
        return BrowserRedirect(dashboard_url(services, provider=kind.value, error=exc.message), clear_cookie=cookie)
    return BrowserRedirect(await _finish_claimed(services, kind, claimed, params), clear_cookie=cookie)


async def _finish_claimed(
    services: Services, kind: ProviderKind, claimed: OAuthState, params: Mapping[str, str]
) -> str:
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
        await sync.enqueue_connection_syncs(session, connection.id, now=services.clock())
        await session.commit()
    services.jobs.kick()
    log.info("user %s connected %s account", claimed.user_id, kind.value)
    return connection
