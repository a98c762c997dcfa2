from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.utils.connection import connect
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.page import CREATE_PAGE, PAGE_FIELDS, UPDATE_PAGE, create_page
from tests.utils.user import create_user

MY_PAGES = f"{{ me {{ schedulingPages {{ {PAGE_FIELDS} }} }} }}"

BERLIN_HOURS = [
    {"weekday": 1, "start": "08:30", "end": "12:00"},
    {"weekday": 1, "start": "13:00", "end": "17:30"},
    {"weekday": 5, "start": "09:00", "end": "24:00"},
]


async def test_create_page_with_every_field(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    data = await gql(
        CREATE_PAGE,
        {
            "input": {
                "name": "Demo call",
                "slug": "ada-demo",
                "durationMinutes": 45,
                "timezone": "Europe/Berlin",
                "weeklyHours": BERLIN_HOURS,
                "bufferMinutes": 10,
                "minimumNoticeMinutes": 120,
            }
        },
        token,
    )
    # then
    result = data["createSchedulingPage"]
    assert result["__typename"] == "SchedulingPageSuccess"
    page = result["page"]
    assert page["name"] == "Demo call" and page["slug"] == "ada-demo"
    assert page["durationMinutes"] == 45 and page["timezone"] == "Europe/Berlin"
    assert page["bufferMinutes"] == 10 and page["minimumNoticeMinutes"] == 120
    assert page["weeklyHours"] == BERLIN_HOURS
    assert page["url"] == "http://meetgraph.test/meetings/ada-demo"
    assert page["active"] is True
    assert (await gql(MY_PAGES, token=token))["me"]["schedulingPages"] == [page]


async def test_defaults_slug_from_name_and_timezone_from_user(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", timezone="America/New_York")
    # when
    first = await create_page(gql, token, name="Kaffee & Kuchen")
    second = await create_page(gql, token, name="Kaffee & Kuchen")
    # then
    assert first["slug"] == "kaffee-kuchen" and second["slug"] == "kaffee-kuchen-2"
    assert first["timezone"] == "America/New_York"
    assert first["durationMinutes"] == 30
    assert [h["weekday"] for h in first["weeklyHours"]] == [1, 2, 3, 4, 5]


async def test_page_without_calendar_is_offline_and_editable(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token, slug="offline-page")
    # when
    data = await gql(
        UPDATE_PAGE,
        {"id": page["id"], "input": {"name": "Renamed", "slug": "offline-page", "durationMinutes": 15}},
        token,
    )
    # then
    updated = data["updateSchedulingPage"]["page"]
    assert page["offline"] is True and updated["offline"] is True
    assert updated["name"] == "Renamed" and updated["durationMinutes"] == 15


async def test_page_with_connected_calendar_is_online(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "GOOGLE")
    # when
    page = await create_page(gql, token)
    # then
    assert page["offline"] is False


INVALID_INPUTS: list[tuple[dict[str, Any], str]] = [
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"weeklyHours": [{"weekday": 8, "start": "09:00", "end": "17:00"}]}, "weeklyHours[0].weekday"),
    ({"weeklyHours": [{"weekday": 1, "start": "25:00", "end": "26:00"}]}, "weeklyHours[0].start"),
    ({"weeklyHours": [{"weekday": 1, "start": "09:00", "end": "25:00"}]}, "weeklyHours[0].end"),
    ({"weeklyHours": [{"weekday": 1, "start": "12:00", "end": "09:00"}]}, "weeklyHours[0].end"),
    (
        {
            "weeklyHours": [
                {"weekday": 2, "start": "09:00", "end": "12:00"},
                {"weekday": 2, "start": "11:00", "end": "14:00"},
            ]
        },
        "weeklyHours[1].start",
    ),
    ({"durationMinutes": 0}, "durationMinutes"),
    ({"bufferMinutes": -5}, "bufferMinutes"),
    ({"minimumNoticeMinutes": -1}, "minimumNoticeMinutes"),
    ({"slug": "my page"}, "slug"),
    ({"slug": "Ünïcode/x/y"}, "slug"),
    ({"name": "   "}, "name"),
]


@pytest.mark.parametrize(("fields", "field"), INVALID_INPUTS, ids=[f for _, f in INVALID_INPUTS])
async def test_create_refuses_invalid_input_and_writes_nothing(
    gql: GraphQLClient, fields: dict[str, Any], field: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    data = await gql(CREATE_PAGE, {"input": {"name": "Intro", **fields}}, token)
    # then
    result = data["createSchedulingPage"]
    assert result["__typename"] == "ValidationError"
    assert result["field"] == field
    assert (await gql(MY_PAGES, token=token))["me"]["schedulingPages"] == []


@pytest.mark.parametrize(("fields", "field"), INVALID_INPUTS, ids=[f for _, f in INVALID_INPUTS])
async def test_update_refuses_invalid_input_and_keeps_the_page(
    gql: GraphQLClient, fields: dict[str, Any], field: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token, slug="intro", timezone="Europe/Berlin", bufferMinutes=5)
    # when
    data = await gql(UPDATE_PAGE, {"id": page["id"], "input": {"name": "Changed", **fields}}, token)
    # then
    result = data["updateSchedulingPage"]
    assert result["__typename"] == "ValidationError"
    assert result["field"] == field
    assert (await gql(MY_PAGES, token=token))["me"]["schedulingPages"] == [page]


async def test_update_changes_every_field(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token, slug="intro")
    # when
    data = await gql(
        UPDATE_PAGE,
        {
            "id": page["id"],
            "input": {
                "name": "Deep dive",
                "slug": "deep-dive",
                "durationMinutes": 90,
                "timezone": "Asia/Tokyo",
                "weeklyHours": [{"weekday": 3, "start": "10:00", "end": "16:00"}],
                "bufferMinutes": 30,
                "minimumNoticeMinutes": 1440,
            },
        },
        token,
    )
    # then
    updated = data["updateSchedulingPage"]["page"]
    assert updated["id"] == page["id"]
    assert updated["name"] == "Deep dive" and updated["slug"] == "deep-dive"
    assert updated["url"] == "http://meetgraph.test/meetings/deep-dive"
    assert (updated["durationMinutes"], updated["timezone"]) == (90, "Asia/Tokyo")
    assert updated["weeklyHours"] == [{"weekday": 3, "start": "10:00", "end": "16:00"}]
    assert (updated["bufferMinutes"], updated["minimumNoticeMinutes"]) == (30, 1440)
    assert (await gql(MY_PAGES, token=token))["me"]["schedulingPages"] == [updated]


async def test_slug_taken_by_another_user_is_refused(gql: GraphQLClient) -> None:
    # given
    _, ada = await create_user(gql, "ada@example.com")
    _, bob = await create_user(gql, "bob@example.com")
    await create_page(gql, ada, slug="intro")
    bobs = await create_page(gql, bob, slug="bobs-intro")
    # when
    created = await gql(CREATE_PAGE, {"input": {"name": "Intro", "slug": "intro"}}, bob)
    updated = await gql(UPDATE_PAGE, {"id": bobs["id"], "input": {"name": "Intro", "slug": "intro"}}, bob)
    # then
    assert created["createSchedulingPage"]["__typename"] == "SlugTakenError"
    assert updated["updateSchedulingPage"]["__typename"] == "SlugTakenError"
    assert (await gql(MY_PAGES, token=bob))["me"]["schedulingPages"] == [bobs]


async def test_update_of_another_users_page_is_not_found(gql: GraphQLClient) -> None:
    # given
    _, ada = await create_user(gql, "ada@example.com")
    _, bob = await create_user(gql, "bob@example.com")
    page = await create_page(gql, ada, slug="intro")
    # when
    data = await gql(UPDATE_PAGE, {"id": page["id"], "input": {"name": "Mine now"}}, bob)
    # then
    assert data["updateSchedulingPage"]["__typename"] == "NotFoundError"
    assert (await gql(MY_PAGES, token=ada))["me"]["schedulingPages"] == [page]
