"""What a reschedule causes besides the move: the availability signal, a create still in flight, a
provider that keeps refusing, and meetings logged on CRM records (no page rules)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest

from meetgraph.availability_events import channel_for
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
from tests.utils.connection import connect
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient, iso, parse
from tests.utils.mail import Mailbox
from tests.utils.meeting import CREATE_CRM_MEETING, my_meetings
from tests.utils.outages import EventInsertOutage
from tests.utils.user import create_user

OWNER = "ada@example.com"
WAIT = 5.0


async def test_a_reschedule_tells_the_owners_availability_subscribers(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    user_id, token = await create_user(gql, OWNER)
    await connect(gql, http, token, "GOOGLE")
    meeting = await crm_meeting(gql, token)
    channel = channel_for(uuid.UUID(user_id))
    async with services.broadcast.subscribe(channel) as changes:
        # when
        result = await reschedule(gql, token, str(meeting["id"]), LATER)
        # then
        assert result["__typename"] == "MeetingSuccess"
        event = await asyncio.wait_for(anext(changes), WAIT)
        assert event.channel == channel and not event.gap


async def test_a_reschedule_before_the_event_is_written_ends_with_one_event_at_the_new_time(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    insert_outage: EventInsertOutage,
    held: HeldRetries,
) -> None:
    # given: the booking's calendar write failed once and waits for its retry
    token = await owner_with_page(gql, http)
    meeting = await booked(gql)
    assert meeting["syncState"] == "PENDING"
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    insert_outage.active = False
    held.released.set()
    await services.drain()
    # then
    assert result["__typename"] == "MeetingSuccess", result
    event = the_event(world.google, "GOOGLE")
    assert (event.start, event.end) == (LATER, LATER + HALF_HOUR)
    (stored,) = await my_meetings(gql, token)
    assert stored["syncState"] == "SYNCED" and parse(stored["start"]) == LATER


async def test_an_update_that_never_succeeds_leaves_the_meeting_moved_failed_and_the_owner_told(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    update_outage: dict[str, EventUpdateOutage],
    held: HeldRetries,
    mailbox: Mailbox,
) -> None:
    # given
    token = await owner_with_page(gql, http)
    meeting = await booked(gql)
    update_outage["GOOGLE"].remaining = 100
    held.released.set()
    # when
    result = await reschedule(gql, token, meeting["id"], LATER)
    await services.drain()
    # then
    assert result["__typename"] == "MeetingSuccess"
    (stored,) = await my_meetings(gql, token)
    assert parse(stored["start"]) == LATER and stored["syncState"] == "FAILED"
    assert update_outage["GOOGLE"].refused == 5
    event = the_event(world.google, "GOOGLE")
    assert (event.start, event.updates_sent) == (SLOT, 0)
    assert len(mailbox.to(OWNER)) == 1


async def crm_meeting(gql: GraphQLClient, token: str) -> dict[str, object]:
    fields = {"contactEmail": "carla@example.com", "title": "Demo", "start": iso(SLOT), "end": iso(SLOT + HALF_HOUR)}
    result = (await gql(CREATE_CRM_MEETING, {"input": fields}, token))["createCrmMeeting"]
    assert result["__typename"] == "MeetingSuccess", result
    meeting: dict[str, object] = result["meeting"]
    return meeting


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_a_crm_meeting_moves_to_any_free_time_and_its_event_follows(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given: no page, so no weekly hours: 22:00 UTC is fine
    _, token = await create_user(gql, OWNER)
    await connect(gql, http, token, provider)
    meeting = await crm_meeting(gql, token)
    state = state_of(world, provider)
    before = the_event(state, provider)
    late = SLOT + timedelta(hours=13)
    # when
    result = await reschedule(gql, token, str(meeting["id"]), late)
    # then
    assert result["__typename"] == "MeetingSuccess", result
    after = the_event(state, provider)
    assert (after.id, after.start, after.end, after.updates_sent) == (before.id, late, late + HALF_HOUR, 1)


async def test_a_crm_meeting_cannot_move_onto_busy_calendar_time(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    await connect(gql, http, token, "GOOGLE")
    meeting = await crm_meeting(gql, token)
    primary = primary_id(world.google, ACCOUNTS["GOOGLE"])
    world.google.add_event(primary, LATER + timedelta(minutes=15), LATER + timedelta(hours=1))
    # when
    result = await reschedule(gql, token, str(meeting["id"]), LATER)
    # then
    assert result["__typename"] == "SlotUnavailableError"
    assert len(live_events(world.google, primary)) == 2
    await assert_unmoved(gql, token, dict(meeting), world.google, "GOOGLE")
