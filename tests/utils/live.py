"""A real uvicorn server on a test's database, for what only a server shows: WebSockets, concurrency.

Services are bound to the event loop that first uses them, so they are created here but only ever used
inside the server thread (its lifespan starts and stops them); the test talks to it over HTTP and
WebSockets only.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from emulators.runner import serve_in_thread
from meetgraph.app import create_app
from meetgraph.services import Events, Services
from meetgraph.settings import Settings
from providers.http import RetryPolicy
from tests.providers.harness import RecordedSleeps
from tests.utils.clock import FakeClock
from tests.utils.databases import TemplateDatabases, pg_engine, postgres_url
from tests.utils.graphql import GraphQLClient

SAFETY_TIMEOUT = 10.0
"""Only bounds a broken test; nothing waits for it to pass."""


class Listening(Events):
    """Tells the test (another thread) when a bookingAttempts subscription is listening, how many times
    availableSlotsChanged feeds computed slots, and how many WebSocket connections ended."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.users: list[str] = []
        self.computed = 0
        self.feeds_closed = 0
        self.websockets_closed = 0

    def subscribed(self, user_id: object) -> None:
        with self.condition:
            self.users.append(str(user_id))
            self.condition.notify_all()

    def _wait(self, user_id: str, count: int) -> bool:
        with self.condition:
            return self.condition.wait_for(lambda: self.users.count(user_id) >= count, SAFETY_TIMEOUT)

    async def wait(self, user_id: str, count: int = 1) -> None:
        """Until `count` subscriptions of the user are listening."""
        assert await asyncio.to_thread(self._wait, user_id, count), f"{count} subscriptions of {user_id}"

    def slots_computed(self, key: object) -> None:
        with self.condition:
            self.computed += 1
            self.condition.notify_all()

    def slots_feed_closed(self, key: object) -> None:
        with self.condition:
            self.feeds_closed += 1
            self.condition.notify_all()

    def websocket_closed(self, client: str) -> None:
        with self.condition:
            self.websockets_closed += 1
            self.condition.notify_all()

    async def websockets_gone(self, count: int) -> None:
        """Until `count` WebSocket connections have ended on the server in all."""
        gone = await asyncio.to_thread(self._wait_for, lambda: self.websockets_closed >= count)
        assert gone, f"{count} WebSocket connections ended, {self.websockets_closed} did"

    def _wait_for(self, done: Callable[[], bool]) -> bool:
        with self.condition:
            return self.condition.wait_for(done, SAFETY_TIMEOUT)

    async def computations(self, count: int) -> None:
        """Until feeds computed slots `count` times in all."""
        reached = await asyncio.to_thread(self._wait_for, lambda: self.computed >= count)
        assert reached, f"{count} computations, {self.computed} made"

    async def feeds_gone(self, count: int) -> None:
        """Until `count` feeds lost their last subscriber."""
        assert await asyncio.to_thread(self._wait_for, lambda: self.feeds_closed >= count), f"{count} feeds closed"


@dataclass
class Live:
    url: str
    http: httpx.AsyncClient
    gql: GraphQLClient
    listening: Listening

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


class LiveDatabases:
    """One database per test that several servers may share (SQLite file or the PostgreSQL schema)."""

    def __init__(self, backend: str, templates: TemplateDatabases, tmp_path: Path) -> None:
        self.backend, self.templates, self.tmp_path = backend, templates, tmp_path
        self.sqlite_url: str | None = None

    async def prepare(self) -> None:
        if self.backend == "sqlite":
            self.sqlite_url = await self.templates.sqlite_url(self.tmp_path / "live.db")
        else:
            url = postgres_url()
            assert url
            await self.templates.reset_postgres(url)

    def services(self, settings: Settings, clock: FakeClock) -> Services:
        retry = RetryPolicy(attempts=3, total_seconds=30, sleep=RecordedSleeps())
        if self.sqlite_url is not None:
            settings.database_url = self.sqlite_url
            return Services.create(settings, clock=clock, retry=retry)
        url = postgres_url()
        assert url
        return Services.create(settings, clock=clock, retry=retry, engine=pg_engine(url))


@asynccontextmanager
async def serve(settings: Settings, databases: LiveDatabases, clock: FakeClock) -> AsyncIterator[Live]:
    services = databases.services(settings.model_copy(), clock)
    listening = Listening()
    services.events = listening
    app = create_app(services.settings, services=services, migrate=False)
    with serve_in_thread(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=SAFETY_TIMEOUT) as http:
            yield Live(url=url, http=http, gql=GraphQLClient(http), listening=listening)
