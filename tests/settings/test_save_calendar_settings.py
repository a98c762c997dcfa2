"""saveCalendarSettings: the input is validated as a whole and saved all or nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.utils.connection import connect_calendar
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.page import create_page
from tests.utils.settings import SAVE_SETTINGS, save_settings
from tests.utils.user import create_user, me

UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def _calendar(connection: dict[str, Any], name: str) -> str:
    (found,) = [c["id"] for c in connection["calendars"] if c["name"] == name]
    return str(found)


async def test_only_the_fields_sent_change(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await connect_calendar(gql, http, token)
    before = (await me(gql, token))["calendarSettings"]
    # when
    result = await save_settings(gql, token, calendarSync=False)
    # then
    assert result["__typename"] == "CalendarSettingsSuccess"
    after = (await me(gql, token))["calendarSettings"]
    assert after == {**before, "calendarSync": False}


async def test_a_valid_change_beside_an_invalid_one_is_not_saved(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    before = await me(gql, token)
    assert before["calendarSettings"]["calendarSync"] is True
    # when
    result = await save_settings(
        gql,
        token,
        calendarSync=False,
        schedulingPagesEnabled=False,
        availabilityCalendarIds=[_calendar(connection, "Team events"), UNKNOWN_ID],
    )
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "availabilityCalendarIds"
    assert await me(gql, token) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"availabilityCalendarIds": ["not-an-id"]}, "availabilityCalendarIds"),
        ({"defaultMeetingLinkId": "not-an-id"}, "defaultMeetingLinkId"),
        ({"chatMeetingLinkId": UNKNOWN_ID}, "chatMeetingLinkId"),
        ({"meetingDomainId": "not-an-id"}, "meetingDomainId"),
        ({"meetingDomainId": UNKNOWN_ID}, "meetingDomainId"),
    ],
)
async def test_bad_ids_are_validation_errors_and_save_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, changes: dict[str, Any], field: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await connect_calendar(gql, http, token)
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, calendarSync=False, **changes)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == field
    assert await me(gql, token) == before


async def test_availability_calendars_may_be_own_or_full_detail_shares(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    chosen = {_calendar(connection, "Team events"), _calendar(connection, "Colleague (full details)")}
    # when
    result = await save_settings(gql, token, availabilityCalendarIds=sorted(chosen))
    # then
    assert result["__typename"] == "CalendarSettingsSuccess", result
    assert {c["id"] for c in result["settings"]["availabilityCalendars"]} == chosen
    calendars = (await me(gql, token))["calendarConnections"][0]["calendars"]
    assert {c["id"] for c in calendars if c["isAvailabilityCalendar"]} == chosen


async def test_free_busy_only_share_cannot_be_an_availability_calendar(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    freebusy = [c for c in connection["calendars"] if c["name"] == "Colleague (free/busy only)"]
    assert [c["selectableForAvailability"] for c in freebusy] == [False]
    await save_settings(gql, token, availabilityCalendarIds=[_calendar(connection, "Team events")])
    before = await me(gql, token)
    # when
    result = await save_settings(
        gql, token, availabilityCalendarIds=[_calendar(connection, "Colleague (free/busy only)")]
    )
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "availabilityCalendarIds"
    assert await me(gql, token) == before


async def test_another_users_calendar_cannot_be_an_availability_calendar(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, other = await create_user(gql, "bob@example.com")
    others = await connect_calendar(gql, http, other)
    _, token = await create_user(gql, "ada@example.com")
    await connect_calendar(gql, http, token, "OFFICE365")
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, availabilityCalendarIds=[_calendar(others, "Team events")])
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "availabilityCalendarIds"
    assert await me(gql, token) == before
    assert not any(c["isAvailabilityCalendar"] for c in (await me(gql, other))["calendarConnections"][0]["calendars"])


async def test_an_empty_list_clears_the_availability_calendars(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    await save_settings(gql, token, availabilityCalendarIds=[_calendar(connection, "Team events")])
    # when
    result = await save_settings(gql, token, availabilityCalendarIds=[])
    # then
    assert result["settings"]["availabilityCalendars"] == []


async def test_calendar_sync_needs_a_connected_calendar(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, calendarSync=True)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "calendarSync"
    assert await me(gql, token) == before


async def test_default_and_chat_links_must_be_own_pages(gql: GraphQLClient) -> None:
    # given
    _, other = await create_user(gql, "bob@example.com")
    others_page = await create_page(gql, other, "Bob's page")
    _, token = await create_user(gql, "ada@example.com")
    own_page = await create_page(gql, token, "Intro call")
    before = await me(gql, token)
    # when
    default = await save_settings(gql, token, defaultMeetingLinkId=others_page["id"])
    chat = await save_settings(gql, token, chatIncludeMeetingLink=True, chatMeetingLinkId=others_page["id"])
    # then
    assert default["__typename"] == "ValidationError" and default["field"] == "defaultMeetingLinkId"
    assert chat["__typename"] == "ValidationError" and chat["field"] == "chatMeetingLinkId"
    assert await me(gql, token) == before
    # when: own pages are fine
    saved = await save_settings(
        gql, token, defaultMeetingLinkId=own_page["id"], chatIncludeMeetingLink=True, chatMeetingLinkId=own_page["id"]
    )
    # then
    assert saved["__typename"] == "CalendarSettingsSuccess"
    assert saved["settings"]["defaultMeetingLink"] == {"id": own_page["id"]}
    assert saved["settings"]["chatMeetingLink"] == {"id": own_page["id"]}
    assert saved["settings"]["chatIncludeMeetingLink"] is True


async def test_chat_meeting_link_needs_a_page(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, chatIncludeMeetingLink=True)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "chatMeetingLinkId"
    assert await me(gql, token) == before


async def test_clearing_the_chat_page_while_it_is_included_is_refused(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token, "Intro call")
    await save_settings(gql, token, chatIncludeMeetingLink=True, chatMeetingLinkId=page["id"])
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, chatMeetingLinkId=None)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "chatMeetingLinkId"
    assert await me(gql, token) == before
    # when: turning the link off and clearing the page together is fine
    cleared = await save_settings(gql, token, chatIncludeMeetingLink=False, chatMeetingLinkId=None)
    # then
    assert cleared["__typename"] == "CalendarSettingsSuccess"
    assert cleared["settings"]["chatMeetingLink"] is None


async def test_null_clears_the_default_meeting_link(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token, "Intro call")
    await save_settings(gql, token, defaultMeetingLinkId=page["id"])
    # when
    result = await save_settings(gql, token, defaultMeetingLinkId=None)
    # then
    assert result["settings"]["defaultMeetingLink"] is None
    assert (await me(gql, token))["calendarSettings"]["defaultMeetingLink"] is None


async def test_settings_need_a_token(gql: GraphQLClient) -> None:
    # when
    body = await gql.raw(SAVE_SETTINGS, {"input": {"calendarSync": False}})
    # then
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
