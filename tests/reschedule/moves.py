"""rescheduleMeeting as the owner calls it, and the page, bookings and events the tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from emulators.state import EmulatedEvent, EmulatorState
from tests.utils.calendars import ACCOUNTS, live_events, primary_id
from tests.utils.connection import connect
from tests.utils.graphql import GraphQLClient, iso, parse
from tests.utils.meeting import MEETING_FIELDS, book, my_meetings
from tests.utils.page import create_page
from tests.utils.user import create_user

# FakeClock: Tuesday 2026-12-01 08:00 UTC. The page is in Berlin, open Monday-Friday 9-17 local time:
# Wednesday 10:00 in Berlin is 09:00 UTC, 12:00 is 11:00 UTC.
SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)
LATER = datetime(2026, 12, 2, 11, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)

RESCHEDULE = f"""
mutation($id: ID!, $start: DateTime!) {{ rescheduleMeeting(id: $id, start: $start) {{
  __typename
  ... on MeetingSuccess {{ meeting {{ {MEETING_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""


async def reschedule(gql: GraphQLClient, token: str, meeting_id: str, start: datetime | str) -> dict[str, Any]:
    variables = {"id": meeting_id, "start": start if isinstance(start, str) else iso(start)}
    result: dict[str, Any] = (await gql(RESCHEDULE, variables, token))["rescheduleMeeting"]
    return result


async def owner_with_page(
    gql: GraphQLClient, http: httpx.AsyncClient, provider: str | None = "GOOGLE", **page: Any
) -> str:
    _, token = await create_user(gql, "ada@example.com")
    if provider is not None:
        await connect(gql, http, token, provider)
    await create_page(gql, token, name="Intro", slug="intro", timezone="Europe/Berlin", **page)
    return token


async def booked(gql: GraphQLClient, start: datetime = SLOT, email: str = "carla@example.com") -> dict[str, Any]:
    result = await book(gql, "intro", start, email=email)
    assert result["__typename"] == "BookMeetingSuccess", result
    meeting: dict[str, Any] = result["meeting"]
    return meeting


def the_event(state: EmulatorState, provider: str) -> EmulatedEvent:
    (event,) = live_events(state, primary_id(state, ACCOUNTS[provider]))
    return event


async def assert_unmoved(
    gql: GraphQLClient, token: str, meeting: dict[str, Any], state: EmulatorState, provider: str
) -> None:
    """Nothing half-written: the meeting and its event are where they were, and nobody was told of a change."""
    (stored,) = [m for m in await my_meetings(gql, token) if m["id"] == meeting["id"]]
    assert (parse(stored["start"]), parse(stored["end"])) == (parse(meeting["start"]), parse(meeting["end"]))
    assert stored["status"] == meeting["status"] and stored["syncState"] == meeting["syncState"]
    events = [e for e in live_events(state, primary_id(state, ACCOUNTS[provider])) if e.attendees]
    assert [(e.start, e.updates_sent) for e in events if e.start == parse(meeting["start"])] == [
        (parse(meeting["start"]), 0)
    ]
