"""The Microsoft provider connected to the Office 365 emulator, for the shared provider suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from emulators.microsoft import create_microsoft_emulator
from emulators.runner import serve_in_thread
from emulators.state import EmulatorState
from meetgraph.providers import oauth_config
from meetgraph.settings import Settings
from providers.http import RetryPolicy
from providers.microsoft import MicrosoftCalendarProvider
from providers.oauth import MemoryTokenStore, OAuthToken, RefreshLocks, TokenManager
from scheduling.calendars import ProviderKind
from tests.providers.harness import Harness, RecordedSleeps

ACCOUNT = "owner@contoso.test"
CLIENT_ID = "meetgraph-test-microsoft"
CLIENT_SECRET = "meetgraph-test-microsoft-secret"


@dataclass
class MicrosoftWorld:
    """Everything a Microsoft-specific test may poke at besides the Harness."""

    harness: Harness
    settings: Settings
    store: MemoryTokenStore
    calls: dict[str, int]


def calendar_named(state: EmulatorState, owner: str, name: str) -> str:
    return next(c.id for c in state.calendars.values() if c.owner_email == owner and c.name == name)


def emulator_settings(base_url: str) -> Settings:
    return Settings(microsoft_client_id=CLIENT_ID, microsoft_client_secret=CLIENT_SECRET).with_emulators(base_url)


@asynccontextmanager
async def make_world(
    policy: RetryPolicy, sleeps: RecordedSleeps, state: EmulatorState | None = None
) -> AsyncIterator[MicrosoftWorld]:
    state = state or EmulatorState("AAMkAG")
    if state.account(ACCOUNT) is None:
        state.seed_demo(ACCOUNT, "Owner")
    account = state.account(ACCOUNT)
    assert account is not None
    emulator = create_microsoft_emulator(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    app = Starlette(routes=[Mount("/_emulators/microsoft", app=emulator)])
    with serve_in_thread(app) as base_url:
        settings = emulator_settings(base_url)
        access, refresh, lifetime = state.oauth.issue_tokens(ACCOUNT)
        token = OAuthToken(
            access_token=access,
            refresh_token=refresh,
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
        )
        store = MemoryTokenStore(token)
        tokens = TokenManager(
            oauth_config(ProviderKind.OFFICE365, settings), store, token, lock=RefreshLocks().get(ACCOUNT)
        )
        provider = MicrosoftCalendarProvider(tokens, graph_url=settings.microsoft_graph_url, retry=policy)
        colleague = f"colleague@{ACCOUNT.split('@', 1)[1]}"
        harness = Harness(
            name="microsoft",
            provider=provider,
            state=state,
            account_email=ACCOUNT,
            primary_id=account.primary_calendar_id,
            second_id=calendar_named(state, ACCOUNT, "Team events"),
            reader_share_id=calendar_named(state, colleague, "Colleague (full details)"),
            freebusy_share_id=calendar_named(state, colleague, "Colleague (free/busy only)"),
            sleeps=sleeps,
            set_client_timeout=lambda seconds: setattr(provider.client, "timeout", httpx.Timeout(seconds)),
        )
        try:
            yield MicrosoftWorld(harness, settings, store, emulator.state.calls)
        finally:
            await provider.aclose()


@asynccontextmanager
async def make_harness(policy: RetryPolicy, sleeps: RecordedSleeps) -> AsyncIterator[Harness]:
    async with make_world(policy, sleeps) as world:
        yield world.harness
