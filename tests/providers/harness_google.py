"""The Google provider connected over real HTTP to the Google emulator."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx

from emulators.google import create_google_emulator
from emulators.runner import serve_in_thread
from emulators.state import AccessRole, EmulatorState
from meetgraph.providers import oauth_config
from meetgraph.settings import Settings
from providers.google import GoogleCalendarProvider
from providers.http import RetryPolicy
from providers.oauth import Clock, MemoryTokenStore, OAuthToken, RefreshLocks, TokenManager, utcnow
from scheduling.calendars import ProviderKind
from tests.providers.harness import Harness, RecordedSleeps

ACCOUNT = "owner@gmail.test"
CLIENT_ID = "meetgraph-test-google"
CLIENT_SECRET = "meetgraph-test-google-secret"


@dataclass
class GoogleWorld:
    """Everything a Google-specific test may need besides the Harness."""

    base_url: str
    settings: Settings
    state: EmulatorState
    calls: Counter[str]
    """Requests per emulated API method, e.g. calls["freebusy.query"]."""


def emulator_settings(base_url: str) -> Settings:
    return Settings(
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_auth_url=f"{base_url}/o/oauth2/v2/auth",
        google_token_url=f"{base_url}/token",
        google_userinfo_url=f"{base_url}/v1/userinfo",
        google_api_url=f"{base_url}/calendar/v3",
    )


def connect(
    world: GoogleWorld,
    policy: RetryPolicy,
    *,
    token: OAuthToken | None = None,
    store: MemoryTokenStore | None = None,
    locks: RefreshLocks | None = None,
    clock: Clock | None = None,
) -> tuple[GoogleCalendarProvider, MemoryTokenStore]:
    """A provider for the seeded account; a fresh emulator-issued token unless one is given."""
    clock = clock or utcnow
    now = clock()
    if token is None:
        access, refresh, lifetime = world.state.oauth.issue_tokens(ACCOUNT)
        token = OAuthToken(access, refresh, now + timedelta(seconds=lifetime))
    store = store or MemoryTokenStore(token)
    tokens = TokenManager(
        oauth_config(ProviderKind.GOOGLE, world.settings),
        store,
        token,
        lock=(locks or RefreshLocks()).get(ACCOUNT),
        clock=clock,
    )
    provider = GoogleCalendarProvider(
        tokens,
        api_url=world.settings.google_api_url,
        userinfo_url=world.settings.google_userinfo_url,
        retry=policy,
    )
    return provider, store


@asynccontextmanager
async def provider_for(
    world: GoogleWorld,
    policy: RetryPolicy,
    *,
    token: OAuthToken | None = None,
    store: MemoryTokenStore | None = None,
    locks: RefreshLocks | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[tuple[GoogleCalendarProvider, MemoryTokenStore]]:
    """connect(), closing the provider's HTTP client afterwards."""
    provider, store = connect(world, policy, token=token, store=store, locks=locks, clock=clock)
    try:
        yield provider, store
    finally:
        await provider.aclose()


@asynccontextmanager
async def google_world(redirect_uris: Collection[str] | None = None) -> AsyncIterator[GoogleWorld]:
    """The Google emulator, seeded with the demo account, served over real HTTP."""
    state = EmulatorState("g")
    state.seed_demo(ACCOUNT, "Owner Example")
    app = create_google_emulator(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=redirect_uris)
    with serve_in_thread(app) as base_url:
        yield GoogleWorld(base_url, emulator_settings(base_url), state, app.state.calls)


@asynccontextmanager
async def make_harness(policy: RetryPolicy, sleeps: RecordedSleeps) -> AsyncIterator[Harness]:
    async with google_world() as world:
        provider, _ = connect(world, policy)
        account = world.state.account(ACCOUNT)
        assert account is not None
        owned = [cid for cid, role in account.access.items() if role is AccessRole.OWNER]
        shares = {role: cid for cid, role in account.access.items() if role is not AccessRole.OWNER}
        try:
            yield Harness(
                name="google",
                provider=provider,
                state=world.state,
                account_email=ACCOUNT,
                primary_id=account.primary_calendar_id,
                second_id=next(cid for cid in owned if cid != account.primary_calendar_id),
                reader_share_id=shares[AccessRole.READER],
                freebusy_share_id=shares[AccessRole.FREE_BUSY],
                sleeps=sleeps,
                set_client_timeout=lambda seconds: setattr(provider.client, "timeout", httpx.Timeout(seconds)),
            )
        finally:
            await provider.aclose()
