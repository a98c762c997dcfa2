"""Calendar sync end to end: a real server (tests/utils/live.py) deployed behind an https PUBLIC_URL, running its
job workers and sync poller in-process by the test's FakeClock, with the emulators' push routes pointing that
origin at the server's real http URL (the TLS proxy a deployment puts in front of the app).

Nothing here waits by sleeping: every job the server's workers finish is recorded, and tests wait on that record
(or on the emulator's push deliveries) with a bound."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import col, or_, select

from db.models import Job, JobState
from emulators.runner import serve_in_thread
from emulators.state import EmulatorState
from meetgraph.app import create_app
from meetgraph.services import Services
from meetgraph.settings import Settings
from tests.utils.clock import FakeClock
from tests.utils.graphql import GraphQLClient
from tests.utils.live import SAFETY_TIMEOUT, Listening, Live, LiveDatabases

PUBLIC_ORIGIN = "https://meetgraph.test"
"""The deployment's PUBLIC_URL when push is possible."""
PLAIN_ORIGIN = "http://meetgraph.test"
"""A PUBLIC_URL without TLS: no provider will push to it."""

SYNC_SETTINGS: dict[str, Any] = {
    "job_poll_seconds": 0.05,
    "sync_poll_seconds": 120.0,
    "sync_safety_net_seconds": 1800.0,
    "sync_renew_before_seconds": 3600.0,
}
"""Idle workers look for jobs made due by an advanced clock every 50 ms of real time (the poller checks the
clock every second); the sync intervals are the defaults, stated so that tests can advance past them."""


@dataclass(frozen=True)
class Ran:
    """One job the server's workers executed (to DONE, a retry or FAILED)."""

    kind: str
    payload: dict[str, Any]


@dataclass
class JobRecord:
    """Every job the server's workers executed, in order; filled in the server's thread."""

    runs: list[Ran] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def record(self, job: Job) -> None:
        with self.condition:
            self.runs.append(Ran(job.kind, dict(job.payload)))
            self.condition.notify_all()

    def count(self, kind: str) -> int:
        with self.condition:
            return sum(1 for ran in self.runs if ran.kind == kind)

    def kinds(self) -> list[str]:
        with self.condition:
            return [ran.kind for ran in self.runs]

    def _wait(self, done: Callable[[list[Ran]], bool]) -> bool:
        with self.condition:
            return self.condition.wait_for(lambda: done(self.runs), SAFETY_TIMEOUT)

    async def wait(self, done: Callable[[list[Ran]], bool], what: str) -> None:
        """Until `done(runs)` holds (bounded by SAFETY_TIMEOUT, which only a broken test reaches)."""
        assert await asyncio.to_thread(self._wait, done), f"never happened: {what}; jobs run: {self.kinds()}"

    async def ran(self, kind: str, count: int) -> None:
        """Until `count` jobs of `kind` were executed in all."""
        await self.wait(lambda runs: sum(1 for r in runs if r.kind == kind) >= count, f"{count} x {kind}")


def _recording(services: Services, record: JobRecord) -> None:
    """Record each job once the queue settled it (its DONE, retry or FAILED state committed)."""
    queue = services.jobs
    execute = queue.execute

    async def recorded(job: Job) -> None:
        try:
            await execute(job)
        finally:
            record.record(job)

    queue.execute = recorded  # type: ignore[method-assign]


class TlsProxy(httpx.AsyncBaseTransport):
    """The TLS-terminating proxy in front of the app, as the test's browser uses it: requests to the PUBLIC_URL
    (Host header kept) reach the server's real http address, so the browser keeps and sends back Secure cookies
    as it would over https."""

    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.URL(upstream)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(scheme=self.upstream.scheme, host=self.upstream.host, port=self.upstream.port)
        forwarded = httpx.Request(
            request.method, url, headers=request.headers, stream=request.stream, extensions=request.extensions
        )
        return await self.inner.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class SyncStack:
    live: Live
    services: Services
    """The server's services: for reading what they hold (settings); used only by the server's own thread."""
    jobs: JobRecord
    clock: FakeClock
    reader: Services
    """Services of the test's own loop on the same database, for reading what the server wrote (never started)."""

    @property
    def gql(self) -> GraphQLClient:
        return self.live.gql

    @property
    def http(self) -> httpx.AsyncClient:
        return self.live.http

    async def _busy(self) -> bool:
        """A job is running or due by the clock (a retry waiting for its time is not)."""
        async with self.reader.sessionmaker() as session:
            found = await session.exec(
                select(func.count())
                .select_from(Job)
                .where(
                    or_(
                        col(Job.state) == JobState.RUNNING,
                        (col(Job.state) == JobState.PENDING) & (col(Job.run_at) <= self.clock()),
                    )
                )
            )
            return found.one() > 0

    async def idle(self) -> None:
        """Until no job is running or due: everything the last changes caused is done (checked again after each
        job the workers finish, bounded)."""
        while True:
            seen = len(self.jobs.kinds())
            if not await self._busy():
                return
            await self.jobs.wait(lambda runs: len(runs) > seen, "the workers to finish what is due")

    async def until(self, check: Callable[[], Awaitable[bool]], what: str, kind: str | None = None) -> None:
        """Until `check()` holds, asked again after each job (of `kind`) the workers finish (bounded)."""
        while True:
            seen = len([k for k in self.jobs.kinds() if kind is None or k == kind])
            if await check():
                return
            await self.jobs.wait(lambda runs: len([r for r in runs if kind is None or r.kind == kind]) > seen, what)


@asynccontextmanager
async def sync_stack(
    settings: Settings,
    databases: LiveDatabases,
    clock: FakeClock,
    emulators: list[EmulatorState],
    *,
    public_url: str = PUBLIC_ORIGIN,
    **overrides: Any,
) -> AsyncIterator[SyncStack]:
    """A server at `public_url` with workers and the sync poller running by `clock`; each emulator's push routes
    send `public_url`'s origin to it, and its clock is `clock` (channel expiries are answered in the test's time)."""
    values = {**SYNC_SETTINGS, **overrides, "public_url": public_url, "run_workers": True}
    services = databases.services(settings.model_copy(update=values), clock)
    listening = Listening()
    services.events = listening
    record = JobRecord()
    _recording(services, record)
    app = create_app(services.settings, services=services, migrate=False)
    reader = databases.services(settings.model_copy(update=values), clock)
    with serve_in_thread(app) as url:
        for state in emulators:
            state.clock = clock
            state.push_routes[public_url.rstrip("/")] = url
        proxy = TlsProxy(url)
        async with httpx.AsyncClient(base_url=public_url, transport=proxy, timeout=SAFETY_TIMEOUT) as http:
            live = Live(url=url, http=http, gql=GraphQLClient(http), listening=listening)
            try:
                yield SyncStack(live, services, record, clock, reader)
            finally:
                await reader.http.aclose()
                await reader.engine.dispose()
                for state in emulators:
                    state.push_routes.pop(public_url.rstrip("/"), None)
