"""Two-way sync applied to a calendar's changes through real sessions (both backends): meetings made in the
calendar are imported once, booked meetings follow their events' moves and deletions, and nothing happens where
two-way sync does not apply."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import col, select

from db.models import Calendar, CalendarConnection, Meeting, MeetingSource, MeetingStatus, SyncState
from meetgraph.providers import provider_for
from meetgraph.services import Services
from resolvers import calendar_writes
from resolvers import two_way as two_way_resolvers
from scheduling.two_way import is_move_refusal
from tests.sync.two_way.engine import CONTACT, apply, event, meetings, owner, stored_meetings
from tests.utils.calendars import ACCOUNTS, live_events, primary_id, state_of
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.jobs import jobs_of_kind
from tests.utils.meeting import CANCEL_MEETING, book
from tests.utils.page import create_page
from tests.utils.settings import save_settings_ok

# FakeClock: Tuesday 2026-12-01 08:00 UTC. Wednesday 10:00 in Berlin is 09:00 UTC.
SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)
LATER = SLOT + timedelta(hours=3)


async def booked(services: Services, gql: GraphQLClient, start: datetime = SLOT) -> Meeting:
    """A meeting booked on the page `intro` and written to the primary calendar (its event id stored)."""
    result = await book(gql, "intro", start)
    assert result["__typename"] == "BookMeetingSuccess", result
    assert result["meeting"]["syncState"] == "SYNCED"
    return await stored(services, result["meeting"]["id"])


async def stored(services: Services, meeting_id: str | uuid.UUID) -> Meeting:
    async with services.sessionmaker() as session:
        found = await session.get(Meeting, uuid.UUID(str(meeting_id)))
    assert found is not None
    return found


async def owner_with_page(gql: GraphQLClient, http: httpx.AsyncClient, provider: str = "GOOGLE") -> str:
    token = await owner(gql, http, provider)
    await create_page(gql, token, name="Intro", slug="intro", timezone="Europe/Berlin")
    return token


# --- import ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_an_event_with_a_contact_appears_as_a_calendar_meeting(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given
    token = await owner(gql, http, provider)
    # when
    changed = await apply(services, [event(SLOT, provider=provider, summary="  Renewal  ")])
    # then
    assert changed is True
    (meeting,) = await meetings(gql, token)
    assert (meeting["source"], meeting["status"], meeting["syncState"]) == ("CALENDAR", "BOOKED", "SYNCED")
    assert (parse(meeting["start"]), parse(meeting["end"])) == (SLOT, SLOT + timedelta(minutes=30))
    assert (meeting["title"], meeting["contactEmail"], meeting["contactName"]) == ("Renewal", CONTACT, "Paul")
    (row,) = await stored_meetings(services)
    assert (row.provider_event_id, row.source) == ("evt-1", MeetingSource.CALENDAR)
    assert row.provider_calendar_id == primary_id(state_of(world, provider), ACCOUNTS[provider])
    assert await jobs_of_kind(services, calendar_writes.WRITE_MEETING) == []


async def test_the_same_batch_twice_imports_once_and_writes_nothing_the_second_time(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http)
    batch = [event(SLOT), event(LATER, event_id="evt-2", attendees=("dora@other.example",))]
    assert await apply(services, batch) is True
    before = await meetings(gql, token)
    # when
    again = await apply(services, batch)
    # then
    assert again is False
    assert await meetings(gql, token) == before and len(before) == 2


async def test_an_imported_event_seen_again_updates_its_meeting(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http)
    await apply(services, [event(SLOT)])
    # when
    changed = await apply(
        services, [event(LATER, minutes=45, summary="Renewal (final)", attendees=("Dora@Other.example",))]
    )
    # then
    assert changed is True
    (meeting,) = await meetings(gql, token)
    assert (parse(meeting["start"]), parse(meeting["end"])) == (LATER, LATER + timedelta(minutes=45))
    assert (meeting["title"], meeting["contactEmail"], meeting["source"]) == (
        "Renewal (final)",
        "dora@other.example",
        "CALENDAR",
    )


async def test_an_imported_meeting_whose_event_loses_its_attendees_is_cancelled(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http)
    await apply(services, [event(SLOT)])
    # when
    changed = await apply(services, [event(SLOT, attendees=())])
    # then
    assert changed is True
    assert [m["status"] for m in await meetings(gql, token)] == ["CANCELLED"]
    assert await jobs_of_kind(services, calendar_writes.DELETE_MEETING) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"key": str(uuid.uuid4())},
        {"from_integration": True},
        {"organized_by_account": False},
        {"attendees": ()},
        {"minutes": 24 * 60},
    ],
    ids=["written-by-meetgraph", "integration", "invited-by-someone-else", "no-contact", "all-day"],
)
async def test_events_that_are_not_a_meeting_with_a_contact_are_not_imported(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World, fields: dict[str, object]
) -> None:
    # given
    token = await owner(gql, http)
    # when
    changed = await apply(services, [event(SLOT, **fields)])  # type: ignore[arg-type]
    # then
    assert changed is False
    assert await meetings(gql, token) == []


async def test_an_import_onto_the_start_of_a_booked_meeting_is_skipped(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    first = await booked(services, gql)
    # when
    changed = await apply(services, [event(SLOT, event_id="evt-other")])
    # then
    assert changed is False
    assert [m["id"] for m in await meetings(gql, token)] == [str(first.id)]


# --- moved ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_a_booked_meeting_moved_in_the_calendar_moves(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given
    token = await owner_with_page(gql, http, provider)
    meeting = await booked(services, gql)
    assert meeting.provider_event_id is not None
    moved = event(
        LATER, provider=provider, event_id=meeting.provider_event_id, minutes=60, key=str(meeting.id), summary="x"
    )
    # when
    changed = await apply(services, [moved])
    # then
    assert changed is True
    (shown,) = await meetings(gql, token)
    assert (parse(shown["start"]), parse(shown["end"])) == (LATER, LATER + timedelta(hours=1))
    assert (shown["source"], shown["status"], shown["contactEmail"]) == ("PAGE", "BOOKED", meeting.contact_email)
    assert shown["title"] == meeting.title
    assert await apply(services, [moved]) is False


async def test_an_event_moved_before_its_create_call_answered_is_found_by_its_key(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given: a CRM meeting whose create reached the calendar, but whose answer (the event id) is not stored yet
    await owner(gql, http)
    async with services.sessionmaker() as session:
        connection = (await session.exec(select(CalendarConnection))).one()
        calendar = (
            await session.exec(
                select(Calendar).where(Calendar.connection_id == connection.id, col(Calendar.is_primary))
            )
        ).one()
        meeting = Meeting(
            user_id=connection.user_id,
            connection_id=connection.id,
            provider_calendar_id=calendar.provider_calendar_id,
            start=SLOT,
            end=SLOT + timedelta(minutes=30),
            status=MeetingStatus.BOOKED,
            source=MeetingSource.CRM,
            title="Renewal",
            contact_email=CONTACT,
            sync_state=SyncState.PENDING,
        )
        session.add(meeting)
        await session.commit()
    async with provider_for(connection, services) as provider:
        event_id = await provider.create_event(calendar.provider_calendar_id, calendar_writes.draft_for(meeting))
    # when
    changed = await apply(services, [event(LATER, event_id=event_id, key=str(meeting.id))])
    # then
    assert changed is True
    after = await stored(services, meeting.id)
    assert (after.start, after.provider_event_id, after.sync_state) == (LATER, event_id, SyncState.SYNCED)
    assert await calendar_writes.write_meeting(services, {"meeting_id": str(meeting.id)}) is None
    assert len(live_events(world.google, calendar.provider_calendar_id)) == 1


async def test_a_move_onto_another_meetings_start_keeps_the_time_and_says_why(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    first = await booked(services, gql, SLOT)
    second = await booked(services, gql, LATER)
    assert first.provider_event_id is not None
    onto_second = event(LATER, event_id=first.provider_event_id, key=str(first.id))
    imported = event(LATER + timedelta(hours=1), event_id="evt-new")
    # when
    changed = await apply(services, [onto_second, imported])
    # then: the first keeps its time, the batch went on
    assert changed is True
    kept = await stored(services, first.id)
    assert (kept.start, kept.status) == (SLOT, MeetingStatus.BOOKED) and is_move_refusal(kept.sync_error)
    assert (await stored(services, second.id)).start == LATER
    assert sorted(m["source"] for m in await meetings(gql, token)) == ["CALENDAR", "PAGE", "PAGE"]
    assert await apply(services, [onto_second, imported]) is False
    # when the event moves on to a free start, the meeting follows and the note goes
    assert await apply(services, [event(LATER + timedelta(hours=2), event_id=first.provider_event_id)]) is True
    moved = await stored(services, first.id)
    assert (moved.start, moved.sync_error) == (LATER + timedelta(hours=2), None)


# --- deleted --------------------------------------------------------------------------------------------


async def test_a_booked_meeting_deleted_in_the_calendar_is_cancelled_with_no_calendar_write(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(services, gql)
    assert meeting.provider_event_id is not None
    (calendar_event,) = live_events(world.google, primary_id(world.google, ACCOUNTS["GOOGLE"]))
    calendar_event.cancelled = True  # the owner deletes it in Google Calendar
    # when
    changed = await apply(services, removed=[meeting.provider_event_id])
    # then
    assert changed is True
    assert [m["status"] for m in await meetings(gql, token)] == ["CANCELLED"]
    assert await jobs_of_kind(services, calendar_writes.DELETE_MEETING) == []
    assert await apply(services, removed=[meeting.provider_event_id]) is False
    # the slot is free again
    assert (await book(gql, "intro", SLOT, email="dora@other.example"))["__typename"] == "BookMeetingSuccess"


async def test_a_meeting_cancelled_here_whose_event_is_deleted_later_changes_nothing(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(services, gql)
    assert meeting.provider_event_id is not None
    assert (await gql(CANCEL_MEETING, {"id": str(meeting.id)}, token))["cancelMeeting"][
        "__typename"
    ] == "MeetingSuccess"
    before = await meetings(gql, token)
    # when
    changed = await apply(services, removed=[meeting.provider_event_id])
    # then
    assert changed is False
    assert await meetings(gql, token) == before


# --- where two-way sync does not apply ------------------------------------------------------------------


async def test_with_calendar_sync_off_nothing_flows_in(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(services, gql)
    await save_settings_ok(gql, token, calendarSync=False)
    assert meeting.provider_event_id is not None
    before = await meetings(gql, token)
    # when
    changed = await apply(
        services, [event(LATER, event_id="evt-new"), event(LATER, event_id=meeting.provider_event_id)]
    )
    removed = await apply(services, removed=[meeting.provider_event_id])
    # then
    assert (changed, removed) == (False, False)
    assert await meetings(gql, token) == before


async def test_an_exchange_connection_gets_nothing(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http, "EXCHANGE")
    # when
    changed = await apply(services, [event(SLOT, provider="EXCHANGE")])
    # then
    assert changed is False
    assert await meetings(gql, token) == []


async def test_an_availability_calendar_gets_nothing(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http)
    # when
    changed = await apply(services, [event(SLOT)], calendar_name="Team events")
    # then
    assert changed is False
    assert await meetings(gql, token) == []


# --- the log --------------------------------------------------------------------------------------------


async def test_each_change_is_logged_with_ids_and_no_addresses(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    await owner(gql, http)
    caplog.set_level(logging.INFO, logger="meetgraph.two_way")
    # when
    await apply(services, [event(SLOT)])
    await apply(services, removed=["evt-1"])
    # then
    (meeting,) = await stored_meetings(services)
    lines = [r.getMessage() for r in caplog.records if r.name == "meetgraph.two_way"]
    assert len(lines) == 2 and all(str(meeting.id) in line and "evt-1" in line for line in lines)
    assert not any("@" in line for line in lines)


async def test_a_start_taken_between_the_check_and_the_write_is_refused_by_the_index_and_the_batch_goes_on(
    services: Services,
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: the friendly check sees nothing (as when a concurrent booking commits right after it)
    token = await owner_with_page(gql, http)
    first = await booked(services, gql, SLOT)
    await booked(services, gql, LATER)
    assert first.provider_event_id is not None

    def nothing_seen(*_: object) -> bool:
        return False

    monkeypatch.setattr(two_way_resolvers._Batch, "slot_taken", nothing_seen)
    batch = [
        event(LATER, event_id=first.provider_event_id),
        event(LATER, event_id="evt-onto-a-meeting"),
        event(LATER + timedelta(hours=1), event_id="evt-free"),
    ]
    # when
    changed = await apply(services, batch)
    # then
    assert changed is True
    kept = await stored(services, first.id)
    assert kept.start == SLOT and is_move_refusal(kept.sync_error)
    shown = await meetings(gql, token)
    assert sorted((m["source"], parse(m["start"])) for m in shown) == [
        ("CALENDAR", LATER + timedelta(hours=1)),
        ("PAGE", SLOT),
        ("PAGE", LATER),
    ]


async def test_the_refusal_note_goes_when_the_event_is_moved_back(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    await owner_with_page(gql, http)
    first = await booked(services, gql, SLOT)
    await booked(services, gql, LATER)
    assert first.provider_event_id is not None
    await apply(services, [event(LATER, event_id=first.provider_event_id)])
    assert is_move_refusal((await stored(services, first.id)).sync_error)
    # when
    changed = await apply(services, [event(SLOT, event_id=first.provider_event_id)])
    # then
    assert changed is False
    kept = await stored(services, first.id)
    assert (kept.start, kept.sync_error) == (SLOT, None)
