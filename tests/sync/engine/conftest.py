"""The sync engine's fixtures: a scripted provider patched in where the engine builds providers, and an owner
with a connected Google (or Office 365) account through the public API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from db.models import Calendar, CalendarConnection, PushChannel
from meetgraph import providers
from meetgraph.services import Services
from tests.sync.engine.scripted import Script, scripted_factory, scripted_oauth_factory
from tests.utils.clock import FakeClock
from tests.utils.connection import connect_calendar
from tests.utils.emulators import EmulatorServer, World
from tests.utils.graphql import GraphQLClient
from tests.utils.processes import Processes, database_url
from tests.utils.user import create_user


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Script:
    made = Script(clock=clock)
    monkeypatch.setattr(providers, "provider_for", scripted_factory(made))
    monkeypatch.setattr(providers, "oauth_provider", scripted_oauth_factory(made))
    return made


@dataclass
class Owner:
    token: str
    user_id: uuid.UUID
    connection_id: uuid.UUID
    calendar_id: uuid.UUID
    """The primary calendar's row id."""
    provider_calendar_id: str


async def connected_owner(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, provider: str = "GOOGLE"
) -> Owner:
    user_id, token = await create_user(gql, f"owner-{uuid.uuid4().hex[:8]}@crm.test")
    connection = await connect_calendar(gql, http, token, provider)
    async with services.sessionmaker() as session:
        primary = (
            await session.exec(
                select(Calendar).where(
                    col(Calendar.connection_id) == uuid.UUID(connection["id"]), col(Calendar.is_primary)
                )
            )
        ).one()
        row = await session.get(CalendarConnection, primary.connection_id)
        assert row is not None
    return Owner(token, uuid.UUID(user_id), row.id, primary.id, primary.provider_calendar_id)


@pytest.fixture
async def owner(services: Services, gql: GraphQLClient, http: httpx.AsyncClient, script: Script, world: World) -> Owner:
    return await connected_owner(services, gql, http)


@pytest.fixture
async def pushed(owner: Owner, services: Services) -> Owner:
    """The owner, connected, in a deployment at an https PUBLIC_URL (set once the OAuth dance, which sets its
    cookie for the browser's http origin, is over): push channels are opened."""
    services.settings.public_url = "https://meetgraph.test"
    return owner


async def channels_of(services: Services, calendar_id: uuid.UUID) -> list[PushChannel]:
    async with services.sessionmaker() as session:
        rows = await session.exec(select(PushChannel).where(col(PushChannel.calendar_id) == calendar_id))
        return list(rows.all())


@pytest.fixture
async def processes(tmp_path: Path, emulator_server: tuple[EmulatorServer, str]) -> AsyncIterator[Processes]:
    """Real meetgraph processes on a SQLite file of their own (as tests/processes/ has them)."""
    async with database_url("sqlite", tmp_path) as url:
        made = Processes(tmp_path, url, emulator_server[1])
        try:
            yield made
        finally:
            await made.close()
