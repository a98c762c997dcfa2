"""An Office 365 owner synced end to end: a live meetgraph server whose PUBLIC_URL is https (the emulator's push
route stands for the TLS proxy in front of it, so Graph's validation requests and notifications reach the server
over real HTTP), the Office 365 emulator on the test's FakeClock, and a worker of the test's own on the same
database that runs the due jobs when the test says so (the server runs none), so that each step is known done.

Both processes share Redis as the broadcast (an `availableSlotsChanged` subscriber on the server hears what the
test's worker publishes) and a real SMTP server (the owner's mails)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from db.models import Calendar, CalendarEvent, Job, JobState, PushChannel
from emulators.microsoft import create_microsoft_emulator
from emulators.microsoft_push import Delivery, GraphPush
from emulators.state import EmulatorState
from meetgraph import jobs
from meetgraph.services import Services
from meetgraph.settings import Settings
from meetgraph.sync import poll_due
from resolvers.job_kinds import KINDS
from tests.utils.calendars import calendar_named
from tests.utils.clock import FakeClock
from tests.utils.connection import calendar_ids, connect
from tests.utils.emulators import MICROSOFT_USER, EmulatorServer
from tests.utils.graphql import GraphQLClient
from tests.utils.live import SAFETY_TIMEOUT, Live, LiveDatabases, serve
from tests.utils.mail import Mailbox, smtp_server
from tests.utils.page import create_page
from tests.utils.settings import save_settings_ok
from tests.utils.user import create_user

PUBLIC_URL = "https://meetgraph.test"
MAX_JOB_ROUNDS = 50
"""Job passes a step may take (jobs enqueue jobs: sync -> watch); a bound, more means a loop."""

CALENDARS = """{ me { calendarConnections { id status calendars { id name isPrimary status syncMode syncedAt } } } }"""


class TlsProxy(httpx.AsyncBaseTransport):
    """The browser's way to the server: requests to the https PUBLIC_URL are sent to the server's local http
    URL, as the TLS proxy in front of it would (the browser keeps its https view: Secure cookies go back)."""

    def __init__(self, target: str) -> None:
        self.target = httpx.URL(target)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(scheme="http", host=self.target.host, port=self.target.port)
        forwarded = httpx.Request(
            request.method, url, headers=request.headers, stream=request.stream, extensions=request.extensions
        )
        return await self.inner.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Microsoft:
    """The emulated Office 365 tenant of one test, on the test's clock."""

    state: EmulatorState
    app: Starlette
    primary: str
    team: str
    shared: str
    """Emulator ids: the account's primary calendar, its second own calendar, a calendar shared by a colleague."""

    @property
    def push(self) -> GraphPush:
        push: GraphPush = self.app.state.push
        return push

    def requests(self) -> int:
        """Every request the emulator answered so far (OAuth included)."""
        return sum(self.app.state.calls.values())

    def calls(self, name: str) -> int:
        return int(self.app.state.calls[name])


@dataclass
class SyncedOwner:
    """What a test works with: the server (API, webhooks), the test's worker, the tenant, the owner."""

    live: Live
    worker: Services
    microsoft: Microsoft
    clock: FakeClock
    mailbox: Mailbox
    token: str = ""
    slug: str = "intro"

    @property
    def gql(self) -> GraphQLClient:
        return self.live.gql

    async def run_jobs(self) -> list[str]:
        """Run the jobs due by the FakeClock until none is left due; the kinds that ran, in order."""
        ran: list[str] = []
        for _ in range(MAX_JOB_ROUNDS):
            claimed = await self.worker.jobs.claim(limit=100)
            if not claimed:
                return ran
            for job in claimed:
                await self.worker.jobs.execute(job)
            ran += [job.kind for job in claimed]
        raise AssertionError(f"jobs still due after {MAX_JOB_ROUNDS} passes: {ran[-20:]}")

    async def poll(self) -> list[str]:
        """One polling round (as the Poller runs it) and the jobs it made due."""
        await poll_due(self.worker)
        return await self.run_jobs()

    async def delivered(self, subscription_id: str, kind: str, count: int = 1) -> list[Delivery]:
        """The subscription's deliveries of `kind` to the server once `count` were answered (waited for with a
        bound); the server has committed what a delivery it answered asked for."""
        found = await asyncio.to_thread(
            self.microsoft.push.wait_for_deliveries, subscription_id, kind, count, SAFETY_TIMEOUT
        )
        assert len(found) >= count, f"{count} {kind} deliveries to {subscription_id}: {found}"
        return found

    async def calendars(self) -> dict[str, dict[str, Any]]:
        """The owner's calendars as the API shows them, by name."""
        data = await self.gql(CALENDARS, token=self.token)
        return {c["name"]: c for conn in data["me"]["calendarConnections"] for c in conn["calendars"]}

    async def channels(self) -> list[PushChannel]:
        async with self.worker.sessionmaker() as session:
            return list((await session.exec(select(PushChannel))).all())

    async def stored(self, provider_calendar_id: str) -> dict[str, CalendarEvent]:
        """The event store's rows of a calendar, by provider event id."""
        async with self.worker.sessionmaker() as session:
            calendar = (
                await session.exec(select(Calendar).where(Calendar.provider_calendar_id == provider_calendar_id))
            ).one()
            rows = await session.exec(select(CalendarEvent).where(CalendarEvent.calendar_id == calendar.id))
            return {row.provider_event_id: row for row in rows.all()}

    async def pending(self, kind: str) -> list[Job]:
        async with self.worker.sessionmaker() as session:
            listed = await jobs.listing(session, [JobState.PENDING], limit=1000)
        return [job for job in listed if job.kind == kind]


def microsoft_tenant(server: EmulatorServer, clock: FakeClock) -> Microsoft:
    """A fresh tenant on `clock`, installed in the session's emulator server; notifications retried quickly."""
    state = EmulatorState("AAMkAG", clock=clock)
    state.seed_demo(MICROSOFT_USER, "Owner (Office 365)")
    app = create_microsoft_emulator(state, push_retry_delays=(0.01, 0.01))
    account = state.account(MICROSOFT_USER)
    assert account is not None
    server.microsoft.app = app
    return Microsoft(
        state,
        app,
        account.primary_calendar_id,
        calendar_named(state, "Team events"),
        calendar_named(state, "Colleague (full details)"),
    )


@asynccontextmanager
async def synced_owner(
    server: EmulatorServer, settings: Settings, databases: LiveDatabases, clock: FakeClock, redis_url: str
) -> AsyncIterator[SyncedOwner]:
    """The server on an https PUBLIC_URL and the test's worker, before anyone signed up (for a test's fixture)."""
    previous = server.microsoft.app
    microsoft = microsoft_tenant(server, clock)
    try:
        with smtp_server() as mailbox:
            shared = settings.model_copy(
                update={
                    "public_url": PUBLIC_URL,
                    "broadcast_url": redis_url,
                    "smtp_url": mailbox.url,
                    "run_workers": False,
                }
            )
            async with serve(shared, databases, clock) as live:
                microsoft.state.push_routes[PUBLIC_URL] = live.url
                worker = databases.services(shared.model_copy(), clock)
                worker.jobs.register(KINDS)
                await worker.start()
                try:
                    yield SyncedOwner(live, worker, microsoft, clock, mailbox)
                finally:
                    await worker.stop()
                    await worker.engine.dispose()
    finally:
        server.microsoft.app = previous


async def sign_up(owner: SyncedOwner, *, shared_availability: bool = False, calendar_sync: bool = True) -> None:
    """Ada connects Office 365 (through the OAuth dance), turns calendar sync on (two-way), has page `intro` in
    UTC open all week, and optionally checks the colleague's shared calendar for availability too. The first
    syncs have not run yet."""
    _, owner.token = await create_user(owner.gql, "ada@example.com")
    async with httpx.AsyncClient(base_url=PUBLIC_URL, transport=TlsProxy(owner.live.url)) as browser:
        await connect(owner.gql, browser, owner.token, "OFFICE365")
    changes: dict[str, Any] = {"calendarSync": calendar_sync}
    if shared_availability:
        ids = await calendar_ids(owner.gql, owner.token)
        changes["availabilityCalendarIds"] = [ids["Colleague (full details)"]]
    await save_settings_ok(owner.gql, owner.token, **changes)
    hours = [{"weekday": day, "start": "00:00", "end": "24:00"} for day in range(1, 8)]
    await create_page(owner.gql, owner.token, name="Intro", slug=owner.slug, timezone="UTC", weeklyHours=hours)


def day_after(clock: FakeClock, days: int = 2, hour: int = 10) -> datetime:
    """A whole hour `days` days ahead of the clock (inside every window the tests look at)."""
    return (clock() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
