"""Who may connect what: the permission, personal (not shared) inboxes, one account (two for legacy users)."""

from __future__ import annotations

import httpx
import pytest

from meetgraph.services import Services
from meetgraph.settings import Settings
from tests.utils.connection import (
    DISCONNECT_CALENDAR,
    START,
    authorize,
    connect_calendar,
    connect_exchange,
    oauth_callback,
)
from tests.utils.db import counts
from tests.utils.emulators import EXCHANGE_USER, GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user, me

CONNECT_SHARED_INBOX = """
mutation($address: String!) { connectSharedInbox(address: $address) {
  __typename ... on EmailInboxSuccess { inbox { id address shared } } ... on Error { message } } }
"""

LEGACY_CREATED_AT = "2023-03-12T23:59:59+00:00"
NEW_CREATED_AT = "2023-03-13T00:00:00+00:00"


async def test_start_needs_personal_email_access(gql: GraphQLClient, services: Services, world: World) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", personalEmailAccess=False)
    # when
    data = await gql(START, {"provider": "GOOGLE"}, token)
    # then
    assert data["startCalendarConnection"]["__typename"] == "PermissionRequiredError"
    assert await counts(services) == {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 0}


async def test_exchange_connect_needs_personal_email_access(
    gql: GraphQLClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", personalEmailAccess=False)
    # when
    result = await connect_exchange(gql, token, settings)
    # then
    assert result["__typename"] == "PermissionRequiredError"
    assert await counts(services) == {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 0}
    assert world.exchange.faults.api_calls == 0


async def test_exchange_address_connected_as_shared_inbox_is_refused(
    gql: GraphQLClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    shared = (await gql(CONNECT_SHARED_INBOX, {"address": EXCHANGE_USER}, token))["connectSharedInbox"]
    assert shared["__typename"] == "EmailInboxSuccess" and shared["inbox"]["shared"] is True
    # when
    result = await connect_exchange(gql, token, settings)
    # then
    assert result["__typename"] == "SharedInboxError"
    state = await me(gql, token)
    assert state["calendarConnections"] == []
    assert [(i["address"], i["shared"]) for i in state["emailInboxes"]] == [(EXCHANGE_USER, True)]
    assert await counts(services) == {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 1}


async def test_oauth_address_connected_as_shared_inbox_redirects_with_error(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await gql(CONNECT_SHARED_INBOX, {"address": GOOGLE_USER}, token)
    start = (await gql(START, {"provider": "GOOGLE"}, token))["startCalendarConnection"]
    # when
    outcome = await oauth_callback(http, await authorize(http, start["authorizationUrl"]))
    # then
    assert outcome["error"] == ["SharedInbox"] and "connected" not in outcome
    state = await me(gql, token)
    assert state["calendarConnections"] == []
    assert state["calendarSettings"]["calendarSync"] is False
    assert await counts(services) == {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 1}


async def test_second_connection_is_refused_at_start_and_for_exchange(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    first = await connect_calendar(gql, http, token)
    before = await counts(services)
    # when
    started = (await gql(START, {"provider": "OFFICE365"}, token))["startCalendarConnection"]
    exchange = await connect_exchange(gql, token, settings)
    # then
    assert started["__typename"] == "ConnectionLimitError"
    assert exchange["__typename"] == "ConnectionLimitError"
    assert [c["id"] for c in (await me(gql, token))["calendarConnections"]] == [first["id"]]
    assert await counts(services) == before


@pytest.mark.parametrize("created_at", [NEW_CREATED_AT, None])
async def test_users_from_2023_03_13_on_hold_one_account(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    world: World,
    created_at: str | None,
) -> None:
    # given
    extra = {"createdAt": created_at} if created_at else {}
    _, token = await create_user(gql, "ada@example.com", **extra)
    await connect_calendar(gql, http, token)
    # when
    result = await connect_exchange(gql, token, settings)
    # then
    assert result["__typename"] == "ConnectionLimitError"
    assert len((await me(gql, token))["calendarConnections"]) == 1


async def test_legacy_user_holds_two_accounts_but_not_three(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", createdAt=LEGACY_CREATED_AT)
    google = await connect_calendar(gql, http, token, "GOOGLE")
    microsoft = await connect_calendar(gql, http, token, "OFFICE365")
    before = await counts(services)
    # when
    exchange = await connect_exchange(gql, token, settings)
    started = (await gql(START, {"provider": "GOOGLE"}, token))["startCalendarConnection"]
    # then
    assert exchange["__typename"] == "ConnectionLimitError"
    assert started["__typename"] == "ConnectionLimitError"
    held = (await me(gql, token))["calendarConnections"]
    assert {c["id"] for c in held} == {google["id"], microsoft["id"]}
    assert await counts(services) == before


async def test_legacy_user_who_removes_one_of_two_falls_under_the_one_account_rule(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", createdAt=LEGACY_CREATED_AT)
    google = await connect_calendar(gql, http, token, "GOOGLE")
    microsoft = await connect_calendar(gql, http, token, "OFFICE365")
    removed = (await gql(DISCONNECT_CALENDAR, {"id": microsoft["id"]}, token))["disconnectCalendar"]
    assert removed == {"__typename": "DisconnectSuccess", "id": microsoft["id"]}
    before = await counts(services)
    # when
    exchange = await connect_exchange(gql, token, settings)
    started = (await gql(START, {"provider": "OFFICE365"}, token))["startCalendarConnection"]
    # then
    assert exchange["__typename"] == "ConnectionLimitError"
    assert started["__typename"] == "ConnectionLimitError"
    assert [c["id"] for c in (await me(gql, token))["calendarConnections"]] == [google["id"]]
    assert await counts(services) == before


async def test_legacy_user_who_removed_one_may_replace_the_last_one(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", createdAt=LEGACY_CREATED_AT)
    google = await connect_calendar(gql, http, token, "GOOGLE")
    microsoft = await connect_calendar(gql, http, token, "OFFICE365")
    for connection in (microsoft, google):
        await gql(DISCONNECT_CALENDAR, {"id": connection["id"]}, token)
    # when
    first = await connect_exchange(gql, token, settings)
    second = (await gql(START, {"provider": "GOOGLE"}, token))["startCalendarConnection"]
    # then
    assert first["__typename"] == "ConnectCalendarSuccess"
    assert second["__typename"] == "ConnectionLimitError"


async def test_second_oauth_connect_started_before_the_first_finished_stores_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given: two authorization URLs handed out while no account was connected yet
    _, token = await create_user(gql, "ada@example.com")
    google = (await gql(START, {"provider": "GOOGLE"}, token))["startCalendarConnection"]
    microsoft = (await gql(START, {"provider": "OFFICE365"}, token))["startCalendarConnection"]
    await oauth_callback(http, await authorize(http, google["authorizationUrl"]))
    before = await counts(services)
    # when
    outcome = await oauth_callback(http, await authorize(http, microsoft["authorizationUrl"]))
    # then
    assert outcome["error"] == ["ConnectionLimit"]
    assert [c["provider"] for c in (await me(gql, token))["calendarConnections"]] == ["GOOGLE"]
    assert await counts(services) == before
