"""An Office 365 world for sync tests: the provider connected over real HTTP to the emulator, whose notifications
reach a recording webhook through the emulator's push route (the TLS proxy an https PUBLIC_URL stands for)."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from emulators.control import with_control
from emulators.microsoft import create_microsoft_emulator
from emulators.microsoft_push import GraphPush
from emulators.runner import serve_in_thread
from emulators.state import EmulatorState
from meetgraph.providers import oauth_config
from providers.http import RetryPolicy
from providers.microsoft import MicrosoftCalendarProvider
from providers.oauth import MemoryTokenStore, OAuthToken, RefreshLocks, TokenManager
from scheduling.calendars import ProviderKind
from tests.providers.harness import RecordedSleeps
from tests.providers.harness_microsoft import ACCOUNT, CLIENT_ID, CLIENT_SECRET, calendar_named, emulator_settings
from tests.utils.clock import FakeClock

PUBLIC_ORIGIN = "https://app.meetgraph.test"
WEBHOOK = f"{PUBLIC_ORIGIN}/webhooks/microsoft"
WAIT_SECONDS = 10.0


@dataclass
class Webhook:
    """The app's side of the wire, recorded: answers validation requests as told and every notification with the
    next of `statuses` (then 202)."""

    validation: str = "echo"
    """"echo" (the token as text/plain), "wrong" (another body), "json" (the token as JSON), "refuse" (403)."""
    statuses: list[int] = field(default_factory=list)
    notifications: queue.Queue[dict[str, object]] = field(default_factory=queue.Queue)
    validations: list[str] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            self.validations.append(request.url.path)
            if self.validation == "echo":
                return PlainTextResponse(token)
            if self.validation == "wrong":
                return PlainTextResponse(token[::-1])
            if self.validation == "json":
                return Response(f'"{token}"', media_type="application/json")
            return Response(status_code=403)
        status = self.statuses.pop(0) if self.statuses else 202
        if status < 300:
            body = await request.json()
            for item in body["value"]:
                self.notifications.put(item)
        return Response(status_code=status)

    async def next(self) -> dict[str, object]:
        """The next notification delivered, waited for at most WAIT_SECONDS."""
        return await asyncio.to_thread(self.notifications.get, True, WAIT_SECONDS)

    def nothing_more(self) -> bool:
        return self.notifications.empty()


@dataclass
class SyncWorld:
    state: EmulatorState
    provider: MicrosoftCalendarProvider
    push: GraphPush
    calls: dict[str, int]
    graph_url: str
    access_token: str
    webhook: Webhook
    clock: FakeClock
    primary_id: str
    second_id: str
    shared_id: str

    @property
    def control_url(self) -> str:
        return self.graph_url.removesuffix("/v1.0") + "/_control"

    def graph(self) -> httpx.AsyncClient:
        """A raw Graph client with the account's token (for what the provider never sends)."""
        return httpx.AsyncClient(
            base_url=self.graph_url, headers={"Authorization": f"Bearer {self.access_token}"}, timeout=20
        )


@pytest.fixture
def webhook() -> Iterator[tuple[Webhook, str]]:
    hook = Webhook()
    app = Starlette(routes=[Route("/webhooks/microsoft", hook.endpoint, methods=["POST"])])
    with serve_in_thread(app) as base_url:
        yield hook, base_url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def world(webhook: tuple[Webhook, str], clock: FakeClock) -> AsyncIterator[SyncWorld]:
    hook, hook_url = webhook
    state = EmulatorState("AAMkAG", clock=clock)
    account = state.seed_demo(ACCOUNT, "Owner")
    state.push_routes[PUBLIC_ORIGIN] = hook_url
    emulator = create_microsoft_emulator(
        state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, push_retry_delays=(0.01, 0.01, 0.01)
    )
    app = Starlette(routes=[Mount("/_emulators/microsoft", app=with_control(emulator, state))])
    with serve_in_thread(app) as base_url:
        settings = emulator_settings(base_url)
        access, refresh, lifetime = state.oauth.issue_tokens(ACCOUNT, lifetime=timedelta(days=30))
        token = OAuthToken(
            access_token=access, refresh_token=refresh, expires_at=datetime.now(UTC) + timedelta(seconds=lifetime)
        )
        tokens = TokenManager(
            oauth_config(ProviderKind.OFFICE365, settings),
            MemoryTokenStore(token),
            token,
            lock=RefreshLocks().get(ACCOUNT),
        )
        sleeps = RecordedSleeps()
        provider = MicrosoftCalendarProvider(
            tokens,
            graph_url=settings.microsoft_graph_url,
            retry=RetryPolicy(attempts=4, total_seconds=30, sleep=sleeps),
            clock=clock,
        )
        colleague = f"colleague@{ACCOUNT.split('@', 1)[1]}"
        try:
            yield SyncWorld(
                state=state,
                provider=provider,
                push=emulator.state.push,
                calls=emulator.state.calls,
                graph_url=settings.microsoft_graph_url,
                access_token=access,
                webhook=hook,
                clock=clock,
                primary_id=account.primary_calendar_id,
                second_id=calendar_named(state, ACCOUNT, "Team events"),
                shared_id=calendar_named(state, colleague, "Colleague (full details)"),
            )
        finally:
            await provider.aclose()
