from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from meetgraph.services import Services
from tests.utils.calendars import ACCOUNTS, calendar_named, events_everywhere_but, live_events, primary_id, state_of
from tests.utils.connection import calendar_ids, connect
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.meeting import CONTACT_EMAIL, CONTACT_NAME, book, my_meetings
from tests.utils.page import create_page
from tests.utils.settings import DISABLE_PAGES, ENABLE_PAGES, save_settings_ok
from tests.utils.user import create_user

# FakeClock: Tuesday 2026-12-01 08:00 UTC. Wednesday 10:00 in Berlin is 09:00 UTC.
SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)


async def owner_with_page(gql: GraphQLClient, http: httpx.AsyncClient, provider: str | None = "GOOGLE") -> str:
    _, token = await create_user(gql, "ada@example.com")
    if provider is not None:
        await connect(gql, http, token, provider)
    await create_page(gql, token, name="Intro", slug="intro", timezone="Europe/Berlin")
    return token


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365", "EXCHANGE"])
async def test_booking_writes_the_meeting_into_the_primary_calendar_only(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given
    token = await owner_with_page(gql, http, provider)
    ids = await calendar_ids(gql, token)
    chosen = [i for name, i in ids.items() if name in ("Team events", "Colleague (full details)")]
    await save_settings_ok(gql, token, availabilityCalendarIds=chosen)
    state = state_of(world, provider)
    primary = primary_id(state, ACCOUNTS[provider])
    # when
    result = await book(gql, "intro", SLOT)
    # then
    assert result["__typename"] == "BookMeetingSuccess", result
    meeting = result["meeting"]
    assert meeting["status"] == "BOOKED" and meeting["syncState"] == "SYNCED"
    assert parse(meeting["start"]) == SLOT and parse(meeting["end"]) == SLOT + timedelta(minutes=30)
    assert (meeting["contactEmail"], meeting["contactName"]) == (CONTACT_EMAIL, CONTACT_NAME)
    (event,) = live_events(state, primary)
    assert (event.start, event.end) == (SLOT, SLOT + timedelta(minutes=30))
    assert CONTACT_EMAIL in event.attendees and event.invitations_sent
    assert events_everywhere_but(state, primary) == []
    assert await my_meetings(gql, token) == [meeting]


async def test_time_outside_the_weekly_hours_is_unavailable(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    # when: 07:00 UTC is 08:00 in Berlin, before the page's hours; 09:10 is not on the slot grid
    early = await book(gql, "intro", SLOT - timedelta(hours=2))
    off_grid = await book(gql, "intro", SLOT + timedelta(minutes=10))
    past = await book(gql, "intro", SLOT - timedelta(days=1, hours=2))
    # then
    assert [r["__typename"] for r in (early, off_grid, past)] == ["SlotUnavailableError"] * 3
    assert await my_meetings(gql, token) == []
    assert live_events(world.google, primary_id(world.google, GOOGLE_USER)) == []


async def test_busy_time_in_an_availability_calendar_makes_the_slot_unavailable(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    ids = await calendar_ids(gql, token)
    await save_settings_ok(gql, token, availabilityCalendarIds=[ids["Team events"]])
    world.google.add_event(calendar_named(world.google, "Team events"), SLOT, SLOT + timedelta(hours=1))
    # when
    result = await book(gql, "intro", SLOT)
    # then
    assert result["__typename"] == "SlotUnavailableError"
    assert await my_meetings(gql, token) == []
    assert live_events(world.google, primary_id(world.google, GOOGLE_USER)) == []


async def test_a_booked_slot_cannot_be_booked_again(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    token = await owner_with_page(gql, http)
    first = await book(gql, "intro", SLOT)
    # when
    second = await book(gql, "intro", SLOT, email="dora@example.com")
    # then
    assert first["__typename"] == "BookMeetingSuccess"
    assert second["__typename"] == "SlotUnavailableError"
    assert [m["contactEmail"] for m in await my_meetings(gql, token)] == [CONTACT_EMAIL]
    assert len(live_events(world.google, primary_id(world.google, GOOGLE_USER))) == 1


async def test_concurrent_bookings_of_one_slot_book_it_once(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    token = await owner_with_page(gql, http)
    # when
    results = await asyncio.gather(*(book(gql, "intro", SLOT, email=f"visitor{i}@example.com") for i in range(10)))
    # then
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["BookMeetingSuccess"] + ["SlotUnavailableError"] * 9
    (winner,) = [r["meeting"] for r in results if r["__typename"] == "BookMeetingSuccess"]
    await services.drain()
    assert [m["id"] for m in await my_meetings(gql, token)] == [winner["id"]]
    (event,) = live_events(world.google, primary_id(world.google, GOOGLE_USER))
    assert event.attendees == [winner["contactEmail"]]


async def test_deactivated_pages_refuse_bookings(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    token = await owner_with_page(gql, http)
    await gql(DISABLE_PAGES, token=token)
    # when
    refused = await book(gql, "intro", SLOT)
    await gql(ENABLE_PAGES, token=token)
    accepted = await book(gql, "intro", SLOT)
    # then
    assert refused["__typename"] == "PagesDisabledError"
    assert accepted["__typename"] == "BookMeetingSuccess"
    assert len(await my_meetings(gql, token)) == 1


@pytest.mark.parametrize(
    ("email", "name", "field"),
    [("not-an-email", CONTACT_NAME, "contactEmail"), (CONTACT_EMAIL, "  ", "contactName")],
)
async def test_invalid_contact_is_refused_and_nothing_is_booked(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, email: str, name: str, field: str
) -> None:
    # given
    token = await owner_with_page(gql, http)
    # when
    result = await book(gql, "intro", SLOT, email=email, name=name)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == field
    assert await my_meetings(gql, token) == []
    assert live_events(world.google, primary_id(world.google, GOOGLE_USER)) == []


async def test_unknown_page_or_foreign_domain_is_not_found(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    # when
    unknown = await book(gql, "outro", SLOT)
    foreign = await book(gql, "intro", SLOT, domain="unrelated.example")
    # then
    assert unknown["__typename"] == "NotFoundError" and foreign["__typename"] == "NotFoundError"
    assert await my_meetings(gql, token) == []
