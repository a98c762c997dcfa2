"""Turning on task sync when the access token has run out: the refresh happens outside any transaction.

Before durable jobs the task calendar was created inside the mutation's write transaction; the token
refresh then waited 30 s on SQLite's write lock held by that same mutation and ended in "Unexpected error.".
The bound below only stops a broken test; the old behaviour took 30 s.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import select

from db.models import CalendarConnection, ConnectionStatus
from meetgraph.services import Services
from tests.settings.test_licences import TASK_SYNC_SEATS, _task_calendars
from tests.utils.clock import FakeClock
from tests.utils.connection import connect_calendar
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.settings import save_settings
from tests.utils.user import create_user

BOUND = 5.0


async def stored_connection(services: Services) -> CalendarConnection:
    async with services.sessionmaker() as session:
        (connection,) = (await session.exec(select(CalendarConnection))).all()
        return connection


async def test_an_expired_token_is_refreshed_while_task_sync_is_turned_on(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    # given: the access token has expired by the time task sync is turned on
    _, token = await create_user(gql, "ada@example.com", **TASK_SYNC_SEATS[0])
    await connect_calendar(gql, http, token)
    before = (await stored_connection(services)).credentials
    clock.advance(hours=2)
    world.google.oauth.expire_access_tokens()
    # when
    result = await asyncio.wait_for(save_settings(gql, token, taskSync=True), BOUND)
    # then: saved, the task calendar exists, the refreshed token is stored
    assert result["__typename"] == "CalendarSettingsSuccess"
    assert len(_task_calendars(world)) == 1
    after = await stored_connection(services)
    assert after.credentials != before and after.task_calendar_id is not None


async def test_a_revoked_grant_while_task_sync_is_turned_on_marks_the_connection_inactive(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **TASK_SYNC_SEATS[0])
    await connect_calendar(gql, http, token)
    clock.advance(hours=2)
    world.google.oauth.expire_access_tokens()
    world.google.faults.revoked = True
    # when
    result = await asyncio.wait_for(save_settings(gql, token, taskSync=True), BOUND)
    # then: the settings stand; the calendar could not be created and the connection shows it
    assert result["__typename"] == "CalendarSettingsSuccess"
    assert _task_calendars(world) == []
    assert (await stored_connection(services)).status is ConnectionStatus.INACTIVE
