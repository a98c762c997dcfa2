"""Input bugs the redesign kept (its strict xfails), seen through the server."""

from __future__ import annotations

import httpx

from tests.utils.graphql import GraphQLClient
from tests.utils.page import CREATE_PAGE, create_page
from tests.utils.settings import save_settings, save_settings_ok
from tests.utils.user import create_user, me


async def test_a_zone_directory_name_is_a_validation_error(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    # when: "Europe" is a directory of the zoneinfo database (IsADirectoryError: "Unexpected error.")
    data = await gql(CREATE_PAGE, {"input": {"name": "Intro", "timezone": "Europe"}}, token)

    # then
    result = data["createSchedulingPage"]
    assert (result["__typename"], result["field"]) == ("ValidationError", "timezone")
    assert (await me(gql, token))["schedulingPages"] == []


async def test_a_slug_longer_than_its_200_character_column_is_a_validation_error(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    # when: two parts of 100 characters and the '/' make 201 (PostgreSQL: value too long, "Unexpected error.")
    data = await gql(CREATE_PAGE, {"input": {"name": "Intro", "slug": "a" * 100 + "/" + "b" * 100}}, token)

    # then
    result = data["createSchedulingPage"]
    assert (result["__typename"], result["field"]) == ("ValidationError", "slug")
    assert (await me(gql, token))["schedulingPages"] == []


async def test_a_name_cut_to_80_characters_at_a_dash_still_makes_a_page(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    # when: the slug made from the name was cut after a '-' (refused by the slug rule it had to pass)
    page = await create_page(gql, token, name="a" * 79 + " b")

    # then
    assert page["slug"] == "a" * 79


async def test_an_explicit_null_chat_inclusion_keeps_the_inclusion_when_clearing_the_page(
    gql: GraphQLClient, http: httpx.AsyncClient
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token)
    before = await save_settings_ok(gql, token, chatIncludeMeetingLink=True, chatMeetingLinkId=page["id"])

    # when: null means "unchanged" for a flag; the page it includes cannot go
    result = await save_settings(gql, token, chatIncludeMeetingLink=None, chatMeetingLinkId=None)

    # then
    assert (result["__typename"], result["field"]) == ("ValidationError", "chatMeetingLinkId")
    assert (await me(gql, token))["calendarSettings"] == before
