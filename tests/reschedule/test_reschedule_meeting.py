from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from meetgraph.services import Services
from tests.reschedule.conftest import EventUpdateOutage, HeldRetries
from tests.reschedule.moves import (
    HALF_HOUR,
    LATER,
    SLOT,
    assert_unmoved,
    booked,
    owner_with_page,
    reschedule,
    the_event,
)
from tests.utils.calendars import ACCOUNTS, live_events, primary_id, state_of
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient, iso, parse
from tests.utils.meeting import CANCEL_MEETING, my_meetings
from tests.utils.user import create_user


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_reschedule_moves_the_event_in_place_and_the_contact_is_told(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given
    token = await owner_with_page(gql, http, provider)
    meeting = await booked(gql)
    state = state_of(world, provider)
    before = the_event(state, provider)
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "MeetingSuccess", result
    moved = result["meeting"]
    assert moved["id"] == meeting["id"] and moved["status"] == "BOOKED" and moved["syncState"] == "SYNCED"
    assert (parse(moved["start"]), parse(moved["end"])) == (LATER, LATER + HALF_HOUR)
    after = the_event(state, provider)
    assert after.id == before.id
    assert (after.start, after.end) == (LATER, LATER + HALF_HOUR)
    assert after.attendees == ["carla@example.com"] and after.updates_sent == 1
    assert await my_meetings(gql, token) == [moved]


async def test_exchange_meetings_cannot_be_rescheduled(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http, "EXCHANGE")
    meeting = await booked(gql)
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "UnsupportedOperationError"
    await assert_unmoved(gql, token, meeting, world.exchange, "EXCHANGE")


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_busy_time_in_the_calendar_makes_the_new_time_unavailable(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given: the owner is busy at the new time in the calendar (an event the app never wrote)
    token = await owner_with_page(gql, http, provider)
    meeting = await booked(gql)
    state = state_of(world, provider)
    state.add_event(primary_id(state, ACCOUNTS[provider]), LATER, LATER + timedelta(hours=1))
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "SlotUnavailableError"
    await assert_unmoved(gql, token, meeting, state, provider)


async def test_another_meeting_makes_the_new_time_unavailable(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(gql)
    await booked(gql, LATER, email="dora@example.com")
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "SlotUnavailableError"
    await assert_unmoved(gql, token, meeting, world.google, "GOOGLE")


@pytest.mark.parametrize(
    "start",
    [
        SLOT - timedelta(hours=2),  # 08:00 in Berlin: before the page's hours
        LATER + timedelta(minutes=10),  # not on the page's half-hour grid
        datetime(2026, 12, 5, 11, tzinfo=UTC),  # a Saturday
    ],
)
async def test_a_time_the_page_does_not_offer_is_unavailable(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, start: datetime
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(gql)
    # when
    result = await reschedule(gql, token, meeting["id"], start)
    # then
    assert result["__typename"] == "SlotUnavailableError"
    await assert_unmoved(gql, token, meeting, world.google, "GOOGLE")


async def test_the_page_notice_applies_to_the_new_time(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given: two days' notice; the meeting is on Thursday, the new time Wednesday (within the notice)
    token = await owner_with_page(gql, http, minimumNoticeMinutes=2 * 24 * 60)
    thursday = SLOT + timedelta(days=2)
    meeting = await booked(gql, thursday)
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "SlotUnavailableError"
    await assert_unmoved(gql, token, meeting, world.google, "GOOGLE")


async def test_the_meeting_itself_does_not_block_the_time_next_to_it(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given: a 30 minute buffer, so the meeting's own time (with buffer) covers the next half hour
    token = await owner_with_page(gql, http, bufferMinutes=30)
    meeting = await booked(gql)
    # when
    result = await reschedule(gql, token, meeting["id"], SLOT + HALF_HOUR)
    # then
    assert result["__typename"] == "MeetingSuccess", result
    assert parse(result["meeting"]["start"]) == SLOT + HALF_HOUR
    event = the_event(world.google, "GOOGLE")
    assert (event.start, event.updates_sent) == (SLOT + HALF_HOUR, 1)


async def test_the_buffer_around_other_meetings_applies(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given: another meeting ends at 11:00 UTC; the buffer is 30 minutes
    token = await owner_with_page(gql, http, bufferMinutes=30)
    meeting = await booked(gql)
    await booked(gql, LATER - HALF_HOUR, email="dora@example.com")
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "SlotUnavailableError"
    await assert_unmoved(gql, token, meeting, world.google, "GOOGLE")


async def test_someone_elses_meeting_is_not_found(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(gql)
    _, stranger = await create_user(gql, "eve@example.com")
    # when
    foreign = await reschedule(gql, stranger, meeting["id"], LATER)
    unknown = await reschedule(gql, token, "4b4d0000-0000-4000-8000-000000000000", LATER)
    malformed = await reschedule(gql, token, "not-an-id", LATER)
    # then
    assert [r["__typename"] for r in (foreign, unknown, malformed)] == ["NotFoundError"] * 3
    await assert_unmoved(gql, token, meeting, world.google, "GOOGLE")


async def test_a_cancelled_meeting_cannot_be_rescheduled(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(gql)
    cancelled = (await gql(CANCEL_MEETING, {"id": meeting["id"]}, token))["cancelMeeting"]["meeting"]
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "id"
    (stored,) = await my_meetings(gql, token)
    assert stored == cancelled and parse(stored["start"]) == SLOT
    assert live_events(world.google, primary_id(world.google, ACCOUNTS["GOOGLE"])) == []


@pytest.mark.parametrize("start", [iso(SLOT - timedelta(days=2)), "2026-12-02T11:00:00"])
async def test_a_past_or_offsetless_start_is_invalid(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, start: str
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(gql)
    # when
    result = await reschedule(gql, token, meeting["id"], start)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "start"
    await assert_unmoved(gql, token, meeting, world.google, "GOOGLE")


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_an_update_refused_with_500_is_retried_and_updates_once(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    update_outage: dict[str, EventUpdateOutage],
    held: HeldRetries,
    provider: str,
) -> None:
    # given
    token = await owner_with_page(gql, http, provider)
    meeting = await booked(gql)
    state = state_of(world, provider)
    event_id = the_event(state, provider).id
    # when: the update made at once is refused
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then: the meeting has moved, its event not yet
    assert result["__typename"] == "MeetingSuccess", result
    assert parse(result["meeting"]["start"]) == LATER and result["meeting"]["syncState"] == "PENDING"
    assert update_outage[provider].refused == 1
    assert (the_event(state, provider).start, the_event(state, provider).updates_sent) == (SLOT, 0)
    # when the retry runs
    held.released.set()
    await services.drain()
    # then
    event = the_event(state, provider)
    assert (event.id, event.start, event.end, event.updates_sent) == (event_id, LATER, LATER + HALF_HOUR, 1)
    (stored,) = await my_meetings(gql, token)
    assert stored["syncState"] == "SYNCED" and parse(stored["start"]) == LATER


async def test_concurrent_reschedules_to_one_start_move_one_meeting(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    token = await owner_with_page(gql, http)
    first = await booked(gql)
    second = await booked(gql, SLOT + HALF_HOUR, email="dora@example.com")
    # when
    results = await asyncio.gather(
        reschedule(gql, token, first["id"], LATER), reschedule(gql, token, second["id"], LATER)
    )
    # then
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["MeetingSuccess", "SlotUnavailableError"]
    (winner,) = [r["meeting"] for r in results if r["__typename"] == "MeetingSuccess"]
    await services.drain()
    meetings = await my_meetings(gql, token)
    assert [m["id"] for m in meetings if parse(m["start"]) == LATER] == [winner["id"]]
    events = live_events(world.google, primary_id(world.google, ACCOUNTS["GOOGLE"]))
    assert sorted(e.start for e in events) == sorted(parse(m["start"]) for m in meetings)
    assert sum(e.updates_sent for e in events) == 1


async def test_a_meeting_in_no_calendar_just_moves(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given: an offline page (no calendar): the booking is a request, in no calendar
    token = await owner_with_page(gql, http, provider=None)
    meeting = await booked(gql)
    assert meeting["status"] == "REQUESTED"
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    # then
    assert result["__typename"] == "MeetingSuccess", result
    moved = result["meeting"]
    assert (parse(moved["start"]), moved["status"], moved["syncState"]) == (LATER, "REQUESTED", "NOT_SYNCED")
    assert await my_meetings(gql, token) == [moved]


async def test_moving_back_and_forth_leaves_the_event_at_the_last_time(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(gql)
    # when: to 11:00, back to 09:00, to 11:00 again (a target this meeting's update jobs have seen before)
    answers = [await reschedule(gql, token, meeting["id"], start) for start in (LATER, SLOT, LATER)]
    await services.drain()
    # then
    assert [r["__typename"] for r in answers] == ["MeetingSuccess"] * 3
    event = the_event(world.google, "GOOGLE")
    assert (event.start, event.updates_sent) == (LATER, 3)
    (stored,) = await my_meetings(gql, token)
    assert parse(stored["start"]) == LATER and stored["syncState"] == "SYNCED"
