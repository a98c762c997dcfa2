"""Pages whose owner's calendars are in the event store (written here as the sync engine would), and the
emulators' busy-time requests counted (and held on demand) where they arrive."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.models import Calendar, CalendarEvent, SyncMode
from meetgraph.services import Events, Services
from scheduling.sync_rules import sync_window
from tests.utils.calendars import calendar_named, primary_id
from tests.utils.connection import calendar_ids, connect
from tests.utils.emulators import GOOGLE_USER, EmulatorServer, World
from tests.utils.graphql import GraphQLClient
from tests.utils.page import create_page
from tests.utils.settings import save_settings_ok
from tests.utils.user import create_user

BUSY_READS = ("/calendar/v3/freeBusy", "/getSchedule")
"""Paths of the providers' busy-time reads (Google freeBusy.query, Graph getSchedule)."""

HOLD_LIMIT_SECONDS = 30.0
"""A held busy read is let go after this long even if the test never releases it (a bound, not a wait)."""


class CountedEmulator:
    """An emulator app behind a counter of the requests it answers, by path; busy reads can be held until
    released (in the emulator's thread), so that concurrent page views are known to overlap."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: Counter[str] = Counter()
        self.busy_bodies: list[bytes] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()

    def busy_reads(self) -> int:
        with self.lock:
            return sum(n for path, n in self.paths.items() if path.endswith(BUSY_READS))

    def total(self) -> int:
        with self.lock:
            return sum(self.paths.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.endswith(BUSY_READS):
            with self.lock:
                self.paths[path] += 1
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        with self.lock:
            self.paths[path] += 1
            self.busy_bodies.append(body)
        if not self.release.is_set():
            await asyncio.to_thread(self.release.wait, HOLD_LIMIT_SECONDS)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@dataclass
class Counted:
    google: CountedEmulator
    microsoft: CountedEmulator

    def of(self, provider: str) -> CountedEmulator:
        return {"GOOGLE": self.google, "OFFICE365": self.microsoft}[provider]


@pytest.fixture
def counted(emulator_server: tuple[EmulatorServer, str], world: World) -> Iterator[Counted]:
    server = emulator_server[0]
    made = Counted(CountedEmulator(world.google_app), CountedEmulator(world.microsoft_app))
    server.google.app, server.microsoft.app = made.google, made.microsoft
    try:
        yield made
    finally:
        made.google.release.set()
        made.microsoft.release.set()
        server.install(world)


@dataclass
class JoinedReads(Events):
    """Tells when `expected` callers share one live read."""

    expected: int
    all_joined: asyncio.Event = field(default_factory=asyncio.Event)
    most: int = 0

    def live_read_joined(self, key: object, waiting: int) -> None:
        self.most = max(self.most, waiting)
        if waiting >= self.expected:
            self.all_joined.set()


@dataclass(frozen=True)
class Owner:
    token: str
    slug: str
    primary: str
    """Emulator id of the primary calendar."""
    team: str
    """Emulator id of the availability calendar "Team events"."""


async def google_owner(gql: GraphQLClient, http: httpx.AsyncClient, world: World, **page: Any) -> Owner:
    """A Google owner with a page "intro" (Berlin hours) checking the primary calendar and "Team events"."""
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "GOOGLE")
    ids = await calendar_ids(gql, token)
    await save_settings_ok(gql, token, availabilityCalendarIds=[ids["Team events"]])
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin", **page)
    return Owner(token, "intro", primary_id(world.google, GOOGLE_USER), calendar_named(world.google, "Team events"))


async def calendar_row(services: Services, provider_calendar_id: str) -> Calendar:
    async with services.sessionmaker() as session:
        return (await session.exec(select(Calendar).where(Calendar.provider_calendar_id == provider_calendar_id))).one()


async def mark_synced(
    services: Services,
    provider_calendar_id: str,
    *,
    mode: SyncMode = SyncMode.POLL,
    synced_at: datetime | None = None,
    window: tuple[datetime, datetime] | None = None,
    events: Sequence[tuple[datetime, datetime]] = (),
    cursor: str = "cursor-from-the-full-sync",
) -> Calendar:
    """What a sync leaves: the calendar's events stored (added to those already there), its mode, when it synced,
    its cursor and the span it covers."""
    now = services.clock()
    async with services.sessionmaker() as session:
        calendar = (
            await session.exec(select(Calendar).where(Calendar.provider_calendar_id == provider_calendar_id))
        ).one()
        calendar.sync_mode = mode
        calendar.synced_at = synced_at or now
        calendar.sync_window_start, calendar.sync_window_end = window or sync_window(
            now, services.settings.sync_window_days
        )
        calendar.sync_cursor = cursor
        for start, end in events:
            session.add(
                CalendarEvent(
                    calendar_id=calendar.id,
                    provider_event_id=f"stored-{uuid.uuid4()}",
                    start=start,
                    end=end,
                    blocks=True,
                    status="opaque",
                )
            )
        session.add(calendar)
        await session.commit()
        await session.refresh(calendar)
        return calendar
