"""Disconnecting: the inbox that came with a calendar can go on its own; only your own rows can be removed."""

from __future__ import annotations

import httpx

from meetgraph.services import Services
from tests.utils.connection import DISCONNECT_CALENDAR, DISCONNECT_INBOX, connect_calendar
from tests.utils.db import counts
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user, me


async def test_connecting_a_calendar_connects_its_inbox(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    await connect_calendar(gql, http, token)
    # then
    inboxes = (await me(gql, token))["emailInboxes"]
    assert [(i["address"], i["shared"]) for i in inboxes] == [(GOOGLE_USER, False)]


async def test_disconnecting_the_inbox_keeps_the_calendar(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    (inbox,) = (await me(gql, token))["emailInboxes"]
    # when
    result = (await gql(DISCONNECT_INBOX, {"id": inbox["id"]}, token))["disconnectEmailInbox"]
    # then
    assert result == {"__typename": "DisconnectSuccess", "id": inbox["id"]}
    state = await me(gql, token)
    assert state["emailInboxes"] == []
    assert [c["id"] for c in state["calendarConnections"]] == [connection["id"]]
    assert state["calendarConnections"][0]["calendars"] == connection["calendars"]
    assert state["calendarSettings"]["calendarSync"] is True


async def test_disconnecting_the_calendar_removes_its_calendars_and_turns_sync_off(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    # when
    result = (await gql(DISCONNECT_CALENDAR, {"id": connection["id"]}, token))["disconnectCalendar"]
    # then
    assert result == {"__typename": "DisconnectSuccess", "id": connection["id"]}
    state = await me(gql, token)
    assert state["calendarConnections"] == []
    assert state["calendarSettings"]["calendarSync"] is False
    assert (await counts(services))["Calendar"] == 0


async def test_disconnecting_someone_elses_calendar_is_not_found(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given
    _, owner = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, owner)
    _, intruder = await create_user(gql, "eve@example.com")
    before = await counts(services)
    # when
    calendar = (await gql(DISCONNECT_CALENDAR, {"id": connection["id"]}, intruder))["disconnectCalendar"]
    inbox_id = (await me(gql, owner))["emailInboxes"][0]["id"]
    inbox = (await gql(DISCONNECT_INBOX, {"id": inbox_id}, intruder))["disconnectEmailInbox"]
    # then
    assert calendar["__typename"] == "NotFoundError"
    assert inbox["__typename"] == "NotFoundError"
    assert [c["id"] for c in (await me(gql, owner))["calendarConnections"]] == [connection["id"]]
    assert await counts(services) == before


async def test_disconnecting_twice_is_not_found(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    await gql(DISCONNECT_CALENDAR, {"id": connection["id"]}, token)
    # when
    again = (await gql(DISCONNECT_CALENDAR, {"id": connection["id"]}, token))["disconnectCalendar"]
    # then
    assert again["__typename"] == "NotFoundError"


async def test_reconnecting_after_disconnect_works(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    first = await connect_calendar(gql, http, token)
    await gql(DISCONNECT_CALENDAR, {"id": first["id"]}, token)
    # when
    second = await connect_calendar(gql, http, token, "OFFICE365")
    # then
    state = await me(gql, token)
    assert [c["id"] for c in state["calendarConnections"]] == [second["id"]]
    assert second["email"] in {i["address"] for i in state["emailInboxes"]}
