"""Google OAuth over real HTTP: authorization code + PKCE, refresh before expiry, refresh once, revocation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from meetgraph.providers import oauth_config
from providers.base import ProviderAuthError
from providers.http import RetryPolicy
from providers.oauth import (
    MemoryTokenStore,
    OAuthToken,
    RefreshLocks,
    authorization_url,
    exchange_code,
    new_code_verifier,
)
from scheduling.calendars import ProviderKind
from tests.providers.harness import RecordedSleeps
from tests.providers.harness_google import ACCOUNT, GoogleWorld, connect, google_world, provider_for

REDIRECT_URI = "http://127.0.0.1:8000/connections/google/callback"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
async def world() -> AsyncIterator[GoogleWorld]:
    async with google_world(redirect_uris=[REDIRECT_URI]) as w:
        yield w


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy(attempts=4, total_seconds=30, sleep=RecordedSleeps())


async def authorize(world: GoogleWorld, *, code_verifier: str | None, extra: str = "") -> httpx.Response:
    """Open the authorization URL the way a browser would, without following the redirect back to us."""
    url = authorization_url(
        oauth_config(ProviderKind.GOOGLE, world.settings),
        redirect_uri=REDIRECT_URI,
        state="opaque-state",
        code_verifier=code_verifier,
    )
    async with httpx.AsyncClient() as browser:
        return await browser.get(url + extra, follow_redirects=False)


def callback_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def test_authorization_code_with_pkce_connects_the_account(world: GoogleWorld, policy: RetryPolicy) -> None:
    # given
    config = oauth_config(ProviderKind.GOOGLE, world.settings)
    verifier = new_code_verifier()
    # when
    params = callback_params(await authorize(world, code_verifier=verifier))
    token = await exchange_code(config, code=params["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier, now=T0)
    # then
    assert params["state"] == "opaque-state"
    assert "https://www.googleapis.com/auth/calendar" in params["scope"].split()
    assert token.refresh_token
    assert token.expires_at == T0 + timedelta(hours=1)
    async with provider_for(world, policy, token=token, clock=FakeClock()) as (provider, _):
        assert await provider.account_email() == ACCOUNT


async def test_authorization_url_asks_for_offline_calendar_access_with_pkce(world: GoogleWorld) -> None:
    # when
    url = authorization_url(
        oauth_config(ProviderKind.GOOGLE, world.settings),
        redirect_uri=REDIRECT_URI,
        state="s",
        code_verifier=new_code_verifier(),
    )
    # then
    query = parse_qs(urlsplit(url).query)
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert query["include_granted_scopes"] == ["true"]
    assert query["code_challenge_method"] == ["S256"]
    assert set(query["scope"][0].split()) == {"openid", "email", "https://www.googleapis.com/auth/calendar"}


async def test_wrong_pkce_verifier_is_refused(world: GoogleWorld) -> None:
    # given
    params = callback_params(await authorize(world, code_verifier=new_code_verifier()))
    # when / then
    with pytest.raises(ProviderAuthError, match="invalid_grant"):
        await exchange_code(
            oauth_config(ProviderKind.GOOGLE, world.settings),
            code=params["code"],
            redirect_uri=REDIRECT_URI,
            code_verifier=new_code_verifier(),
            now=T0,
        )


async def test_a_code_is_redeemed_only_once(world: GoogleWorld) -> None:
    # given
    config = oauth_config(ProviderKind.GOOGLE, world.settings)
    verifier = new_code_verifier()
    params = callback_params(await authorize(world, code_verifier=verifier))
    await exchange_code(config, code=params["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier, now=T0)
    # when / then
    with pytest.raises(ProviderAuthError, match="invalid_grant"):
        await exchange_code(config, code=params["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier, now=T0)


async def test_cancel_on_the_consent_screen_redirects_with_access_denied(world: GoogleWorld) -> None:
    # when
    params = callback_params(await authorize(world, code_verifier=new_code_verifier(), extra="&emulator_deny=1"))
    # then
    assert params == {"error": "access_denied", "state": "opaque-state"}


async def test_unknown_login_hint_is_denied(world: GoogleWorld) -> None:
    # when
    response = await authorize(world, code_verifier=None, extra="&login_hint=nobody%40gmail.test")
    # then
    assert callback_params(response)["error"] == "access_denied"


async def test_unregistered_redirect_uri_shows_an_error_page(world: GoogleWorld) -> None:
    # given
    url = authorization_url(
        oauth_config(ProviderKind.GOOGLE, world.settings),
        redirect_uri="https://evil.example/callback",
        state="s",
        code_verifier=new_code_verifier(),
    )
    # when
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url, follow_redirects=False)
    # then
    assert response.status_code == 400
    assert "redirect_uri_mismatch" in response.text


async def test_wrong_client_secret_is_invalid_client(world: GoogleWorld) -> None:
    # when
    async with httpx.AsyncClient() as client:
        response = await client.post(
            world.settings.google_token_url,
            data={"grant_type": "refresh_token", "refresh_token": "x"},
            auth=(world.settings.google_client_id, "wrong"),
        )
    # then
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_expired_token_is_refreshed_once_for_concurrent_calls(world: GoogleWorld, policy: RetryPolicy) -> None:
    # given: ten requests of one connection, each with its own provider, sharing store and lock
    clock = FakeClock()
    access, refresh, lifetime = world.state.oauth.issue_tokens(ACCOUNT)
    stale = OAuthToken(access, refresh, clock() + timedelta(seconds=lifetime))
    store = MemoryTokenStore(stale)
    locks = RefreshLocks()
    clock.advance(timedelta(seconds=lifetime + 1))
    providers = [connect(world, policy, token=stale, store=store, locks=locks, clock=clock)[0] for _ in range(10)]
    try:
        # when
        results = await asyncio.gather(*(p.list_calendars() for p in providers))
    finally:
        await asyncio.gather(*(p.aclose() for p in providers))
    # then
    assert all(results)
    assert store.saves == 1
    assert world.calls["oauth.token"] == 1
    assert store.token.access_token != access
    assert store.token.refresh_token == refresh
    assert store.token.expires_at == clock() + timedelta(seconds=lifetime)


async def test_token_rejected_early_is_refreshed_and_the_call_retried(world: GoogleWorld, policy: RetryPolicy) -> None:
    # given: the token looks valid to us but Google already expired it
    async with provider_for(world, policy, clock=FakeClock()) as (provider, store):
        world.state.oauth.expire_access_tokens()
        # when
        calendars = await provider.list_calendars()
    # then
    assert calendars
    assert store.saves == 1
    assert world.calls["calendarList.list"] == 2


async def test_invalid_grant_on_refresh_marks_the_connection_inactive(world: GoogleWorld, policy: RetryPolicy) -> None:
    # given
    clock = FakeClock()
    async with provider_for(world, policy, clock=clock) as (provider, store):
        world.state.faults.revoked = True
        clock.advance(timedelta(hours=2))
        # when / then
        with pytest.raises(ProviderAuthError):
            await provider.list_calendars()
    assert store.inactive
    assert store.saves == 0
    assert world.calls["calendarList.list"] == 0


async def test_refresh_is_skipped_while_the_token_is_fresh(world: GoogleWorld, policy: RetryPolicy) -> None:
    # given
    clock = FakeClock()
    async with provider_for(world, policy, clock=clock) as (provider, store):
        clock.advance(timedelta(minutes=58))
        # when
        await provider.list_calendars()
    # then
    assert store.saves == 0
    assert world.calls["oauth.token"] == 0
