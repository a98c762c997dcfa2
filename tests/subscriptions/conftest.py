"""A real uvicorn server per test for WebSocket subscriptions.

Services are bound to the event loop that first uses them, so they are created here but only ever used
inside the server thread (its lifespan starts and stops them); the test talks to it over HTTP and
WebSockets only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from emulators.runner import serve_in_thread
from meetgraph.app import create_app
from meetgraph.services import Events, Services
from meetgraph.settings import Settings
from providers.http import RetryPolicy
from tests.providers.harness import RecordedSleeps
from tests.utils.clock import FakeClock
from tests.utils.databases import TemplateDatabases, pg_engine, postgres_url
from tests.utils.graphql import GraphQLClient
from tests.utils.redis_server import RedisServer, redis_server_or_skip

REDIS_ENV = "MEETGRAPH_TEST_REDIS_URL"
PROTOCOL = "graphql-transport-ws"
SAFETY_TIMEOUT = 10.0
"""Only bounds a broken test; nothing waits for it to pass."""


class Listening(Events):
    """Tells the test (another thread) when a bookingAttempts subscription is listening."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.users: list[str] = []

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


@pytest.fixture
async def databases(backend: str, template_databases: TemplateDatabases, tmp_path: Path) -> LiveDatabases:
    made = LiveDatabases(backend, template_databases, tmp_path)
    await made.prepare()
    return made


@asynccontextmanager
async def serve(settings: Settings, databases: LiveDatabases, clock: FakeClock) -> AsyncIterator[Live]:
    services = databases.services(settings.model_copy(), clock)
    listening = Listening()
    services.events = listening
    app = create_app(services.settings, services=services, migrate=False)
    with serve_in_thread(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=SAFETY_TIMEOUT) as http:
            yield Live(url=url, http=http, gql=GraphQLClient(http), listening=listening)


@pytest.fixture
async def live(settings: Settings, databases: LiveDatabases, clock: FakeClock) -> AsyncIterator[Live]:
    async with serve(settings, databases, clock) as server:
        yield server


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"the Redis broadcast test needs {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0)")
    return url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, free to stop and start; killed at the end."""
    server = redis_server_or_skip()
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


class GraphQLWebSocket:
    """The client side of graphql-transport-ws."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), SAFETY_TIMEOUT)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def init(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, operation_id: str, query: str) -> None:
        await self.send({"id": operation_id, "type": "subscribe", "payload": {"query": query}})

    async def next_data(self, operation_id: str) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            assert message.get("id") == operation_id and message["type"] == "next", message
            data: dict[str, Any] = message["payload"]["data"]
            return data


@asynccontextmanager
async def ws_client(live: Live) -> AsyncIterator[GraphQLWebSocket]:
    async with connect(live.ws_url, subprotocols=[PROTOCOL], open_timeout=SAFETY_TIMEOUT) as connection:  # type: ignore[list-item]
        yield GraphQLWebSocket(connection)


@asynccontextmanager
async def authorized(live: Live, token: str) -> AsyncIterator[GraphQLWebSocket]:
    async with ws_client(live) as client:
        ack = await client.init({"authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack", ack
        yield client
