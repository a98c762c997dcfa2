"""Fixtures for the Google sync tests: the emulator over real HTTP, the provider, a webhook receiver behind the
emulator's push routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulators.google import create_google_emulator
from emulators.google_push import Delivery, GooglePush
from emulators.runner import serve_in_thread
from emulators.state import EmulatorState
from providers.google import GoogleCalendarProvider
from providers.http import RetryPolicy
from tests.providers.harness import RecordedSleeps
from tests.providers.harness_google import (
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    GoogleWorld,
    emulator_settings,
    provider_for,
)

PUBLIC_ORIGIN = "https://app.meetgraph.test"
WEBHOOK = f"{PUBLIC_ORIGIN}/webhooks/google"
WAIT_SECONDS = 10.0


@dataclass
class Served:
    world: GoogleWorld
    push: GooglePush


@pytest.fixture
def served() -> Iterator[Served]:
    """The Google emulator (seeded like tests/providers' google_world) and its push side."""
    state = EmulatorState("g")
    state.seed_demo(ACCOUNT, "Owner Example")
    app = create_google_emulator(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with serve_in_thread(app) as base_url:
        yield Served(
            GoogleWorld(base_url, emulator_settings(base_url), state, app.state.calls), app.state.emulator.push
        )


@pytest.fixture
def world(served: Served) -> GoogleWorld:
    return served.world


@pytest.fixture
def push(served: Served) -> GooglePush:
    return served.push


@pytest.fixture
async def provider(world: GoogleWorld) -> AsyncIterator[GoogleCalendarProvider]:
    async with provider_for(world, RetryPolicy(attempts=4, total_seconds=30, sleep=RecordedSleeps())) as (p, _):
        yield p


def primary_id(world: GoogleWorld) -> str:
    account = world.state.account(ACCOUNT)
    assert account is not None
    return account.primary_calendar_id


async def api_call(world: GoogleWorld, method: str, path: str, **kwargs: object) -> httpx.Response:
    """A raw Calendar API call as the seeded account (for what the emulator answers on the wire)."""
    access, _, _ = world.state.oauth.issue_tokens(ACCOUNT)
    async with httpx.AsyncClient(base_url=world.settings.google_api_url) as client:
        return await client.request(method, path, headers={"Authorization": f"Bearer {access}"}, **kwargs)  # type: ignore[arg-type]


@dataclass
class Receiver:
    """The app's webhook endpoint standing behind the TLS proxy: records every notification's headers and answers
    the scripted statuses first (then 200)."""

    base_url: str = ""
    received: list[dict[str, str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        self.received.append({k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-goog-")})
        assert await request.body() == b""
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
def receiver(world: GoogleWorld, push: GooglePush) -> Iterator[Receiver]:
    found = Receiver()
    app = Starlette(routes=[Route("/webhooks/google", found.endpoint, methods=["POST"])])
    with serve_in_thread(app) as base_url:
        found.base_url = base_url
        world.state.push_routes[PUBLIC_ORIGIN] = base_url
        push.retry_base_seconds = 0.001
        yield found


async def wait_for(push: GooglePush, predicate: Callable[[list[Delivery]], bool]) -> list[Delivery]:
    """The deliveries once `predicate` holds for them (a bounded wait on a thread: the emulator delivers from its
    own)."""
    found = await asyncio.to_thread(push.wait_for, predicate, WAIT_SECONDS)
    assert predicate(found), f"deliveries never matched: {found}"
    return found
