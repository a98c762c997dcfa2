"""Connecting Exchange with email and password: the server is checked before anything is stored."""

from __future__ import annotations

import pytest

from meetgraph.services import Services
from meetgraph.settings import Settings
from tests.utils.connection import connect_exchange
from tests.utils.db import counts
from tests.utils.emulators import EXCHANGE_USER, EmulatorServer, World
from tests.utils.graphql import GraphQLClient
from tests.utils.settings import save_settings
from tests.utils.user import create_user, me

NOTHING = {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 0}
NO_CAPABILITIES = {
    "cancelMeetings": False,
    "rescheduleMeetings": False,
    "twoWaySync": False,
    "insertTimesInEmail": False,
}


@pytest.mark.parametrize("with_ews_url", [True, False], ids=["ews-url", "autodiscover"])
async def test_exchange_connects_calendar_and_inbox(
    gql: GraphQLClient, services: Services, settings: Settings, world: World, with_ews_url: bool
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await connect_exchange(gql, token, settings if with_ews_url else None)
    # then
    assert result["__typename"] == "ConnectCalendarSuccess", result
    connection = result["connection"]
    assert connection["provider"] == "EXCHANGE" and connection["email"] == EXCHANGE_USER
    assert connection["status"] == "ACTIVE"
    assert [c["isPrimary"] for c in connection["calendars"]].count(True) == 1
    state = await me(gql, token)
    assert [c["id"] for c in state["calendarConnections"]] == [connection["id"]]
    assert [(i["address"], i["shared"]) for i in state["emailInboxes"]] == [(EXCHANGE_USER, False)]


async def test_exchange_connection_has_no_capabilities_and_no_sync(
    gql: GraphQLClient, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await connect_exchange(gql, token, settings)
    # when
    state = await me(gql, token)
    turned_on = await save_settings(gql, token, calendarSync=True)
    # then
    (connection,) = state["calendarConnections"]
    assert connection["capabilities"] == NO_CAPABILITIES
    assert state["calendarSettings"]["calendarSync"] is False
    assert turned_on["__typename"] == "ValidationError" and turned_on["field"] == "calendarSync"
    assert (await me(gql, token))["calendarSettings"]["calendarSync"] is False


async def test_refused_login_is_a_provider_error_that_mentions_app_passwords(
    gql: GraphQLClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await connect_exchange(gql, token, settings, password="the-normal-password")
    # then
    assert result["__typename"] == "ProviderError"
    assert "app password" in result["message"].lower()
    assert (await me(gql, token))["calendarConnections"] == []
    assert await counts(services) == NOTHING


async def test_server_older_than_exchange_2010_sp2_is_refused(
    gql: GraphQLClient, services: Services, settings: Settings, emulator_server: tuple[EmulatorServer, str]
) -> None:
    # given
    emulator_server[0].new_world(exchange_version="Exchange2010")
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await connect_exchange(gql, token, settings)
    # then
    assert result["__typename"] == "ExchangeVersionError"
    assert (await me(gql, token))["calendarConnections"] == []
    assert await counts(services) == NOTHING


@pytest.mark.parametrize(
    "ews_url", ["not a url", "ftp://mail.example.com/EWS/Exchange.asmx", "https://", "https:///EWS/Exchange.asmx"]
)
async def test_invalid_ews_url_is_a_validation_error(
    gql: GraphQLClient, services: Services, world: World, ews_url: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await connect_exchange(gql, token, ewsUrl=ews_url)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "ewsUrl"
    assert await counts(services) == NOTHING
    assert world.exchange.faults.api_calls == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"email": "not-an-email"}, "email"), ({"password": ""}, "password"), ({"password": "x" * 1025}, "password")],
)
async def test_missing_or_malformed_credentials_are_validation_errors(
    gql: GraphQLClient, services: Services, settings: Settings, world: World, overrides: dict[str, str], field: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await connect_exchange(gql, token, settings, **overrides)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == field
    assert await counts(services) == NOTHING
    assert world.exchange.faults.api_calls == 0


async def test_unreachable_server_is_a_provider_error_and_stores_nothing(
    gql: GraphQLClient, services: Services, settings: Settings, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    world.exchange.faults.fail_next = [500] * 10
    # when
    result = await connect_exchange(gql, token, settings)
    # then
    assert result["__typename"] == "ProviderError"
    assert await counts(services) == NOTHING
