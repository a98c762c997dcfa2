"""Deactivating all pages, and availability calendars whose access was lost (inactive until removed)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.utils.connection import connect_calendar
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.page import create_page
from tests.utils.settings import DISABLE_PAGES, ENABLE_PAGES, REMOVE_INACTIVE_CALENDAR, save_settings
from tests.utils.user import create_user, me

SLOTS = """
query { me { schedulingPages { id active availableSlots(start: "2026-12-02T00:00:00Z", end: "2026-12-05T00:00:00Z") {
  start } } } }
"""

SHARED_CALENDAR = "Colleague (full details)"


def _calendar_id(connection: dict[str, Any], name: str) -> str:
    (found,) = [c["id"] for c in connection["calendars"] if c["name"] == name]
    return str(found)


def _provider_calendar_id(world: World, name: str) -> str:
    (found,) = [c.id for c in world.google.calendars.values() if c.name == name]
    return found


async def _slot_count(gql: GraphQLClient, token: str) -> int:
    (page,) = (await gql(SLOTS, token=token))["me"]["schedulingPages"]
    return len(page["availableSlots"])


async def test_disable_and_enable_flip_every_page(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    for name in ("Intro call", "Product demo"):
        await create_page(gql, token, name)
    # when
    disabled = (await gql(DISABLE_PAGES, token=token))["disableSchedulingPages"]
    state_off = await me(gql, token)
    enabled = (await gql(ENABLE_PAGES, token=token))["enableSchedulingPages"]
    state_on = await me(gql, token)
    # then
    assert disabled["settings"]["pagesActive"] is False
    assert state_off["calendarSettings"]["pagesActive"] is False
    assert [p["active"] for p in state_off["schedulingPages"]] == [False, False]
    assert enabled["settings"]["pagesActive"] is True
    assert [p["active"] for p in state_on["schedulingPages"]] == [True, True]


async def test_deactivated_pages_are_kept_and_offer_no_slots(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token, "Intro call")
    assert await _slot_count(gql, token) > 0
    # when
    await gql(DISABLE_PAGES, token=token)
    # then
    assert [p["id"] for p in (await me(gql, token))["schedulingPages"]] == [page["id"]]
    assert await _slot_count(gql, token) == 0


async def test_lost_availability_calendar_turns_inactive_and_can_be_removed(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    shared = _calendar_id(connection, SHARED_CALENDAR)
    await save_settings(gql, token, availabilityCalendarIds=[shared])
    await create_page(gql, token, "Intro call")
    assert await _slot_count(gql, token) > 0
    world.google.lose_access(GOOGLE_USER, _provider_calendar_id(world, SHARED_CALENDAR))
    # when: a visitor looks for times
    slots = await _slot_count(gql, token)
    # then
    assert slots == 0
    state = await me(gql, token)
    assert state["calendarSettings"]["inactiveCalendars"] == [{"id": shared}]
    (status,) = [c["status"] for c in state["calendarConnections"][0]["calendars"] if c["id"] == shared]
    assert status == "INACTIVE"
    # when: the owner removes it
    removed = (await gql(REMOVE_INACTIVE_CALENDAR, {"id": shared}, token))["removeInactiveCalendar"]
    # then
    assert removed["__typename"] == "CalendarSettingsSuccess"
    assert removed["settings"]["inactiveCalendars"] == [] and removed["settings"]["availabilityCalendars"] == []
    assert shared not in {c["id"] for c in (await me(gql, token))["calendarConnections"][0]["calendars"]}
    assert await _slot_count(gql, token) > 0


async def test_inactive_calendar_turns_active_when_access_returns(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    shared = _calendar_id(connection, SHARED_CALENDAR)
    await save_settings(gql, token, availabilityCalendarIds=[shared])
    await create_page(gql, token, "Intro call")
    world.google.lose_access(GOOGLE_USER, _provider_calendar_id(world, SHARED_CALENDAR))
    await _slot_count(gql, token)
    world.google.restore_access(GOOGLE_USER, _provider_calendar_id(world, SHARED_CALENDAR))
    # when
    slots = await _slot_count(gql, token)
    # then
    assert slots > 0
    assert (await me(gql, token))["calendarSettings"]["inactiveCalendars"] == []


async def test_removing_an_active_calendar_is_refused(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    shared = _calendar_id(connection, SHARED_CALENDAR)
    await save_settings(gql, token, availabilityCalendarIds=[shared])
    before = await me(gql, token)
    # when
    result = (await gql(REMOVE_INACTIVE_CALENDAR, {"id": shared}, token))["removeInactiveCalendar"]
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "calendarId"
    assert await me(gql, token) == before


async def test_inactive_calendar_cannot_be_chosen_again(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    shared = _calendar_id(connection, SHARED_CALENDAR)
    team = _calendar_id(connection, "Team events")
    await save_settings(gql, token, availabilityCalendarIds=[shared])
    await create_page(gql, token, "Intro call")
    world.google.lose_access(GOOGLE_USER, _provider_calendar_id(world, SHARED_CALENDAR))
    await _slot_count(gql, token)
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, availabilityCalendarIds=[shared, team])
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "availabilityCalendarIds"
    assert await me(gql, token) == before


async def test_inactive_primary_calendar_cannot_be_removed(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    (primary,) = [c["id"] for c in connection["calendars"] if c["isPrimary"]]
    await create_page(gql, token, "Intro call")
    account = world.google.account(GOOGLE_USER)
    assert account is not None
    world.google.lose_access(GOOGLE_USER, account.primary_calendar_id)
    await _slot_count(gql, token)
    before = await me(gql, token)
    assert before["calendarSettings"]["inactiveCalendars"] == [{"id": primary}]
    # when
    result = (await gql(REMOVE_INACTIVE_CALENDAR, {"id": primary}, token))["removeInactiveCalendar"]
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "calendarId"
    assert await me(gql, token) == before
