"""Every list input of the schema has a documented maximum: beyond it the answer is a ValidationError
naming the field, and nothing is written. 32,768 availabilityCalendarIds used to exceed asyncpg's
32,767 bind parameters on PostgreSQL ("Unexpected error.")."""

from __future__ import annotations

import uuid

import httpx
import pytest

from meetgraph.settings import Settings
from scheduling.settings_rules import MAX_AVAILABILITY_CALENDARS
from scheduling.slots import MAX_WEEKLY_HOURS
from tests.utils.connection import calendar_ids, connect
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.page import CREATE_PAGE, UPDATE_PAGE, create_page
from tests.utils.settings import save_settings, save_settings_ok
from tests.utils.user import create_user, me

BEYOND_POSTGRES_PARAMETERS = 32_768


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Bodies big enough for 32,768 ids (1.3 MB): the list's own limit is what these tests are about."""
    settings.max_body_bytes = 4_000_000
    return settings


def every_quarter_hour(count: int) -> list[dict[str, object]]:
    """`count` distinct, non-overlapping weekly intervals (15 minutes each, Monday on)."""
    return [
        {
            "weekday": 1 + n // 96,
            "start": f"{n % 96 // 4:02}:{n % 4 * 15:02}",
            "end": f"{n % 96 // 4:02}:{n % 4 * 15 + 10:02}",
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [MAX_AVAILABILITY_CALENDARS + 1, BEYOND_POSTGRES_PARAMETERS])
async def test_too_many_availability_calendar_ids_are_refused_and_nothing_changes(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, count: int
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "GOOGLE")
    chosen = list((await calendar_ids(gql, token)).values())[:1]
    before = await save_settings_ok(gql, token, availabilityCalendarIds=chosen)
    ids = chosen + [str(uuid.uuid4()) for _ in range(count - 1)]

    # when
    result = await save_settings(gql, token, availabilityCalendarIds=ids, calendarSync=True)

    # then
    assert (result["__typename"], result["field"]) == ("ValidationError", "availabilityCalendarIds")
    assert (await me(gql, token))["calendarSettings"] == before


async def test_as_many_availability_calendar_ids_as_allowed_are_checked_one_by_one(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "GOOGLE")
    ids = list((await calendar_ids(gql, token)).values())[:1]
    ids += [str(uuid.uuid4()) for _ in range(MAX_AVAILABILITY_CALENDARS - 1)]

    # when
    result = await save_settings(gql, token, availabilityCalendarIds=ids)

    # then: within the limit, the ids are looked at (unknown ones are not the user's calendars)
    assert (result["__typename"], result["field"]) == ("ValidationError", "availabilityCalendarIds")
    assert "connected accounts" in result["message"]


async def test_the_most_weekly_hours_allowed_are_saved(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    # when
    page = await create_page(gql, token, weeklyHours=every_quarter_hour(MAX_WEEKLY_HOURS))

    # then
    assert len(page["weeklyHours"]) == MAX_WEEKLY_HOURS


async def test_too_many_weekly_hours_are_refused_and_no_page_is_created(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    # when
    data = await gql(
        CREATE_PAGE, {"input": {"name": "Intro", "weeklyHours": every_quarter_hour(MAX_WEEKLY_HOURS + 1)}}, token
    )

    # then
    result = data["createSchedulingPage"]
    assert (result["__typename"], result["field"]) == ("ValidationError", "weeklyHours")
    assert (await me(gql, token))["schedulingPages"] == []


async def test_too_many_weekly_hours_leave_a_page_as_it_was(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token)

    # when
    data = await gql(
        UPDATE_PAGE,
        {"id": page["id"], "input": {"name": "Renamed", "weeklyHours": every_quarter_hour(MAX_WEEKLY_HOURS + 1)}},
        token,
    )

    # then
    result = data["updateSchedulingPage"]
    assert (result["__typename"], result["field"]) == ("ValidationError", "weeklyHours")
    assert (await me(gql, token))["schedulingPages"] == [
        {"id": page["id"], "slug": page["slug"], "url": page["url"], "active": page["active"]}
    ]
