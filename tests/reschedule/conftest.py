from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.state import EmulatorState
from meetgraph.mail import Mailer
from meetgraph.services import Services
from providers.http import RetryPolicy
from tests.utils.emulators import EmulatorServer, World
from tests.utils.mail import Mailbox, smtp_server
from tests.utils.outages import EventInsertOutage


class EventUpdateOutage:
    """Wraps an emulator app: the next `count` event updates (Google PUT/PATCH, Graph PATCH on an event)
    answer the emulator's own 500, before the emulator changes anything; every other call is served."""

    def __init__(self, app: ASGIApp, state: EmulatorState, count: int = 1) -> None:
        self.app = app
        self.state = state
        self.remaining = count
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.remaining > 0
            and scope["type"] == "http"
            and scope["method"] in ("PUT", "PATCH")
            and "/events/" in scope["path"]
        ):
            self.remaining -= 1
            self.refused += 1
            with self.state.lock:
                self.state.faults.fail_next.insert(0, 500)
        await self.app(scope, receive, send)


class HeldRetries:
    """The injected sleep: every background retry waits until the test lets it go (no real waiting)."""

    def __init__(self) -> None:
        self.released = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        await self.released.wait()


@pytest.fixture
def held(services: Services) -> HeldRetries:
    """One try per HTTP call, and background retries held until released."""
    sleep = HeldRetries()
    services.retry = RetryPolicy(attempts=1, total_seconds=30, sleep=sleep)
    return sleep


@pytest.fixture
def update_outage(emulator_server: tuple[EmulatorServer, str], world: World) -> Iterator[dict[str, EventUpdateOutage]]:
    """One 500 for the next event update, at Google and at Microsoft."""
    server, _ = emulator_server
    outages = {
        "GOOGLE": EventUpdateOutage(world.google_app, world.google),
        "OFFICE365": EventUpdateOutage(world.microsoft_app, world.microsoft),
    }
    server.google.app = outages["GOOGLE"]
    server.microsoft.app = outages["OFFICE365"]
    yield outages
    server.install(world)


@pytest.fixture
def insert_outage(emulator_server: tuple[EmulatorServer, str], world: World) -> Iterator[EventInsertOutage]:
    """Google answers 500 to every event insert until `insert_outage.active = False`."""
    server, _ = emulator_server
    wrapped = EventInsertOutage(world.google_app, world.google)
    server.google.app = wrapped
    yield wrapped
    server.install(world)


@pytest.fixture
def mailbox(services: Services) -> Iterator[Mailbox]:
    """A real SMTP server on loopback; the app's mailer sends to it."""
    with smtp_server() as box:
        services.settings.smtp_url = box.url
        services.mailer = Mailer(box.url, services.settings.email_from)
        yield box
