"""Rescheduling a meeting that two-way sync brought in from the calendar (source CALENDAR), through the API with
the emulators: the owner's event moves in place, time only, and the sync that follows changes nothing more."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from db.models import Calendar, CalendarEvent
from emulators.state import EmulatedEvent, EmulatorState
from meetgraph import sync
from meetgraph.services import Services
from tests.reschedule.conftest import EventUpdateOutage, HeldRetries
from tests.reschedule.moves import HALF_HOUR, LATER, SLOT, assert_unmoved, booked, owner_with_page, reschedule
from tests.utils.calendars import ACCOUNTS, primary_id, state_of
from tests.utils.clock import FakeClock
from tests.utils.connection import connect
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.jobs import run_due
from tests.utils.meeting import MEETING_FIELDS
from tests.utils.user import create_user

OWNER = "ada@example.com"
GUESTS = ["carla@example.com", "dora@example.com", "erin@example.com"]
AGENDA = "Agenda: the renewal terms. Dial-in: +49 30 1234567"
MEETINGS = f"{{ me {{ meetings {{ {MEETING_FIELDS} source }} }} }}"
PROVIDERS = ["GOOGLE", "OFFICE365"]


async def calendar_meetings(gql: GraphQLClient, token: str) -> list[dict[str, Any]]:
    found = (await gql(MEETINGS, token=token))["me"]["meetings"]
    return [m for m in found if m["source"] == "CALENDAR"]


async def synced(services: Services) -> None:
    """A sync of each of the owner's calendars, as the poller or a notification would ask for it, run to the end."""
    async with services.sessionmaker() as session:
        ids = (await session.exec(select(Calendar.id))).all()
    await sync.request_sync(services, list(ids))
    while await run_due(services):
        pass


async def stored_event(services: Services, event_id: str) -> CalendarEvent:
    async with services.sessionmaker() as session:
        return (await session.exec(select(CalendarEvent).where(col(CalendarEvent.provider_event_id) == event_id))).one()


async def owners_meeting(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, state: EmulatorState, provider: str
) -> tuple[str, str, EmulatedEvent, dict[str, Any]]:
    """Ada connects her calendar, then makes a meeting there with three guests and an agenda; the sync brings it
    in. Returns her user id, token, the event and the meeting."""
    user_id, token = await create_user(gql, OWNER)
    await connect(gql, http, token, provider)
    event = state.add_event(
        primary_id(state, ACCOUNTS[provider]),
        SLOT,
        SLOT + HALF_HOUR,
        "Renewal",
        attendees=[ACCOUNTS[provider], *GUESTS],
        description=AGENDA,
        timezone="Europe/Berlin",
    )
    await synced(services)
    (meeting,) = await calendar_meetings(gql, token)
    assert (parse(meeting["start"]), meeting["contactEmail"], meeting["title"]) == (SLOT, GUESTS[0], "Renewal")
    return user_id, token, event, meeting


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_event_moves_in_place_keeping_its_guests_and_text(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, provider: str
) -> None:
    # given
    state = state_of(world, provider)
    user_id, token, event, meeting = await owners_meeting(gql, http, services, state, provider)
    event_id = event.id
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then: the meeting moved, and its event with it: same id, new time, nothing else touched, guests told once
    assert result["__typename"] == "MeetingSuccess", result
    moved = result["meeting"]
    assert moved["id"] == meeting["id"] and moved["syncState"] == "SYNCED"
    assert (parse(moved["start"]), parse(moved["end"])) == (LATER, LATER + HALF_HOUR)
    assert (event.id, event.start, event.end) == (event_id, LATER, LATER + HALF_HOUR)
    assert (event.summary, event.description, event.cancelled) == ("Renewal", AGENDA, False)
    assert sorted(event.attendees) == sorted([ACCOUNTS[provider], *GUESTS])
    assert event.updates_sent == 1
    written = event.seq
    # when: the next sync reads the moved event back
    await synced(services)
    # then: the store holds the new time, and nothing more changed, here or in the calendar
    stored = await stored_event(services, event_id)
    assert (stored.start.replace(tzinfo=LATER.tzinfo), stored.end.replace(tzinfo=LATER.tzinfo)) == (
        LATER,
        LATER + HALF_HOUR,
    )
    assert await calendar_meetings(gql, token) == [{**moved, "source": "CALENDAR"}]
    assert event.seq == written and event.updates_sent == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_sync_while_the_move_is_being_written_does_not_move_it_back(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    update_outage: dict[str, EventUpdateOutage],
    held: HeldRetries,
    clock: FakeClock,
    provider: str,
) -> None:
    # given: the provider refuses the first update, so the move is still being written when a sync runs
    state = state_of(world, provider)
    user_id, token, event, meeting = await owners_meeting(gql, http, services, state, provider)
    result = await reschedule(gql, token, meeting["id"], LATER)
    assert result["__typename"] == "MeetingSuccess", result
    assert result["meeting"]["syncState"] == "PENDING"
    assert (update_outage[provider].refused, event.start) == (1, SLOT)
    # when: the sync sees the event still at the old time
    await synced(services)
    # then: the meeting keeps its new time
    (pending,) = await calendar_meetings(gql, token)
    assert (parse(pending["start"]), pending["syncState"]) == (LATER, "PENDING")
    # when: the update's retry is due and succeeds, and the calendar is synced again
    clock.advance(minutes=5)
    await synced(services)
    # then: meeting and event agree on the new time
    (done,) = await calendar_meetings(gql, token)
    assert (parse(done["start"]), done["syncState"]) == (LATER, "SYNCED")
    assert (event.start, event.summary, event.description, event.updates_sent) == (LATER, "Renewal", AGENDA, 1)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_busy_calendar_time_refuses_the_move_and_nothing_changes(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, provider: str
) -> None:
    # given
    state = state_of(world, provider)
    _, token, event, meeting = await owners_meeting(gql, http, services, state, provider)
    state.add_event(primary_id(state, ACCOUNTS[provider]), LATER, LATER + timedelta(hours=1), "Dentist")
    seen = event.seq
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "SlotUnavailableError", result
    assert await calendar_meetings(gql, token) == [meeting]
    assert (event.start, event.seq, event.updates_sent) == (SLOT, seen, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_busy_time_made_since_the_last_sync_refuses_a_booked_meetings_move(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, provider: str
) -> None:
    # given: a page booking on a calendar whose store is fresh, then an event the store has not seen yet
    state = state_of(world, provider)
    token = await owner_with_page(gql, http, provider)
    meeting = await booked(gql)
    await synced(services)
    state.add_event(primary_id(state, ACCOUNTS[provider]), LATER, LATER + timedelta(hours=1), "Dentist")
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then: checked against the calendar itself, as a booking is
    assert result["__typename"] == "SlotUnavailableError", result
    await assert_unmoved(gql, token, meeting, state, provider)
