from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.utils.connection import (
    DISCONNECT_CALENDAR,
    MY_CALENDARS,
    START,
    authorize,
    connect_oauth,
    oauth_callback,
    open_authorization,
)
from tests.utils.emulators import GOOGLE_USER, MICROSOFT_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user

ME = """{ me { calendarConnections { provider email status calendars { name isPrimary selectableForAvailability }
  capabilities { cancelMeetings twoWaySync } }
  emailInboxes { address shared } calendarSettings { calendarSync schedulingPagesEnabled } } }"""


@pytest.mark.parametrize(("provider", "email"), [("GOOGLE", GOOGLE_USER), ("OFFICE365", MICROSOFT_USER)])
async def test_oauth_dance_connects_calendar_and_inbox(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str, email: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    outcome = await connect_oauth(gql, http, token, provider)
    # then
    assert "connected" in outcome, outcome
    me = (await gql(ME, token=token))["me"]
    (connection,) = me["calendarConnections"]
    assert connection["provider"] == provider and connection["email"] == email
    assert connection["status"] == "ACTIVE"
    assert [c["isPrimary"] for c in connection["calendars"]].count(True) == 1
    assert {c["selectableForAvailability"] for c in connection["calendars"]} == {True, False}
    assert connection["capabilities"] == {"cancelMeetings": True, "twoWaySync": True}
    assert me["emailInboxes"] == [{"address": email, "shared": False}]
    assert me["calendarSettings"] == {"calendarSync": True, "schedulingPagesEnabled": True}


async def test_authorization_url_carries_state_and_pkce(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    _, token = await create_user(gql, "ada@example.com")
    data = await gql(START, {"provider": "GOOGLE"}, token)
    at_provider = await open_authorization(http, data["startCalendarConnection"]["authorizationUrl"])
    query = parse_qs(urlsplit(at_provider).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["access_type"] == ["offline"]
    assert query["state"][0] and query["code_challenge"][0]


async def test_reused_state_is_refused_and_stores_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    data = await gql(START, {"provider": "GOOGLE"}, token)
    redirect = await authorize(http, data["startCalendarConnection"]["authorizationUrl"])
    await oauth_callback(http, redirect)
    await gql(
        DISCONNECT_CALENDAR,
        {"id": (await gql(MY_CALENDARS, token=token))["me"]["calendarConnections"][0]["id"]},
        token,
    )
    # when
    outcome = await oauth_callback(http, redirect)
    # then
    assert outcome["error"] == ["invalid_state"]
    assert (await gql(MY_CALENDARS, token=token))["me"]["calendarConnections"] == []
