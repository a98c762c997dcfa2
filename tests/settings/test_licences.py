"""Paid features: task sync (Sales/Service Professional+) and the meeting URL prefix (Sales/Service Starter+)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from meetgraph.services import Services
from tests.utils.connection import connect_calendar
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.page import create_page
from tests.utils.settings import save_settings
from tests.utils.task import CREATE_TASK
from tests.utils.user import create_user, me

TASK_CALENDAR = "CRM tasks"

TASK_SYNC_SEATS = [
    {"hub": "SALES", "tier": "PROFESSIONAL", "paidSeat": True},
    {"hub": "SERVICE", "tier": "ENTERPRISE", "paidSeat": True},
]
NO_TASK_SYNC_SEATS = [
    {"hub": "SALES", "tier": "PROFESSIONAL", "paidSeat": False},
    {"hub": "NONE", "tier": "ENTERPRISE", "paidSeat": True},
    {"hub": "SERVICE", "tier": "STARTER", "paidSeat": True},
    {"hub": "SALES", "tier": "FREE", "paidSeat": True},
]
PREFIX_SEATS = [
    {"hub": "SALES", "tier": "STARTER", "paidSeat": True},
    {"hub": "SERVICE", "tier": "PROFESSIONAL", "paidSeat": True},
    {"hub": "SALES", "tier": "ENTERPRISE", "paidSeat": True},
]
NO_PREFIX_SEATS = [
    {"hub": "SALES", "tier": "FREE", "paidSeat": True},
    {"hub": "SALES", "tier": "STARTER", "paidSeat": False},
    {"hub": "NONE", "tier": "ENTERPRISE", "paidSeat": True},
]


def _task_calendars(world: World) -> list[str]:
    return [c.id for c in world.google.calendars.values() if c.name == TASK_CALENDAR and c.owner_email == GOOGLE_USER]


def _seat_id(seat: dict[str, Any]) -> str:
    return "-".join(str(v) for v in seat.values())


@pytest.mark.parametrize("seat", NO_TASK_SYNC_SEATS, ids=_seat_id)
async def test_task_sync_needs_a_professional_sales_or_service_seat(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, seat: dict[str, Any]
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **seat)
    await connect_calendar(gql, http, token)
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, taskSync=True, calendarSync=False)
    # then
    assert result["__typename"] == "LicenseRequiredError"
    assert await me(gql, token) == before
    assert _task_calendars(world) == []


@pytest.mark.parametrize("seat", TASK_SYNC_SEATS, ids=_seat_id)
async def test_task_sync_creates_the_task_sub_calendar_once(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, seat: dict[str, Any]
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **seat)
    await connect_calendar(gql, http, token)
    # when
    result = await save_settings(gql, token, taskSync=True)
    await save_settings(gql, token, taskSync=False)
    again = await save_settings(gql, token, taskSync=True)
    # then
    assert result["__typename"] == "CalendarSettingsSuccess" and result["settings"]["taskSync"] is True
    assert again["settings"]["taskSync"] is True
    assert len(_task_calendars(world)) == 1
    assert (await me(gql, token))["calendarSettings"]["taskSync"] is True


async def test_synced_tasks_land_in_the_task_sub_calendar(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **TASK_SYNC_SEATS[0])
    await connect_calendar(gql, http, token)
    await save_settings(gql, token, taskSync=True)
    # when
    result = await gql(CREATE_TASK, {"input": {"title": "Call back", "due": "2026-12-02T10:00:00Z"}}, token)
    # then
    assert result["createTask"]["task"]["synced"] is True
    (calendar_id,) = _task_calendars(world)
    assert [e.summary for e in world.google.calendars[calendar_id].events.values()] == ["Task: Call back"]


async def test_task_sync_without_a_calendar_is_refused(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **TASK_SYNC_SEATS[0])
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, taskSync=True)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "taskSync"
    assert await me(gql, token) == before


async def test_a_failed_task_calendar_creation_is_retried_until_the_calendar_exists(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **TASK_SYNC_SEATS[0])
    await connect_calendar(gql, http, token)
    world.google.faults.fail_next = [500] * 10
    # when: the provider fails while the settings are saved
    result = await save_settings(gql, token, taskSync=True, calendarSync=False)
    # then: the settings stand, the calendar is not there yet, and a task waits for it
    assert result["__typename"] == "CalendarSettingsSuccess"
    assert _task_calendars(world) == []
    task = await gql(CREATE_TASK, {"input": {"title": "Call back", "due": "2026-12-03T09:00:00Z"}}, token)
    assert task["createTask"]["task"]["synced"] is False
    world.google.faults.fail_next = []
    # when the provider is back
    await services.drain()
    # then: one task calendar, with the task in it
    (calendar_id,) = _task_calendars(world)
    assert [e.summary for e in world.google.calendars[calendar_id].events.values()] == ["Task: Call back"]


@pytest.mark.parametrize("seat", NO_PREFIX_SEATS, ids=_seat_id)
async def test_url_prefix_needs_a_starter_sales_or_service_seat(gql: GraphQLClient, seat: dict[str, Any]) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **seat)
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, meetingUrlPrefix="sales")
    # then
    assert result["__typename"] == "LicenseRequiredError"
    assert await me(gql, token) == before


@pytest.mark.parametrize("seat", PREFIX_SEATS, ids=_seat_id)
async def test_url_prefix_applies_to_future_pages_only(gql: GraphQLClient, seat: dict[str, Any]) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **seat)
    existing = await create_page(gql, token, "Intro call")
    # when
    result = await save_settings(gql, token, meetingUrlPrefix="Sales")
    created = await create_page(gql, token, "Product demo")
    # then
    assert result["__typename"] == "CalendarSettingsSuccess"
    assert result["settings"]["meetingUrlPrefix"] == "sales"
    assert created["slug"] == "sales/product-demo"
    assert created["url"] == "http://meetgraph.test/meetings/sales/product-demo"
    pages = {p["id"]: p for p in (await me(gql, token))["schedulingPages"]}
    assert pages[existing["id"]]["slug"] == "intro-call"
    assert pages[existing["id"]]["url"] == "http://meetgraph.test/meetings/intro-call"


async def test_explicit_slug_ignores_the_prefix_and_null_clears_it(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **PREFIX_SEATS[0])
    await save_settings(gql, token, meetingUrlPrefix="sales")
    # when
    explicit = await create_page(gql, token, "Intro call", slug="intro")
    cleared = await save_settings(gql, token, meetingUrlPrefix=None)
    later = await create_page(gql, token, "Product demo")
    # then
    assert explicit["slug"] == "intro"
    assert cleared["settings"]["meetingUrlPrefix"] is None
    assert later["slug"] == "product-demo"


@pytest.mark.parametrize("prefix", ["", "a/b", "with space", "-dash", "x" * 101])
async def test_malformed_prefix_is_a_validation_error(gql: GraphQLClient, prefix: str) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com", **PREFIX_SEATS[0])
    before = await me(gql, token)
    # when
    result = await save_settings(gql, token, meetingUrlPrefix=prefix)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "meetingUrlPrefix"
    assert await me(gql, token) == before
