from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from meetgraph.services import Services
from tests.utils.calendars import calendar_named, live_events, primary_id
from tests.utils.connection import calendar_ids, connect
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.mail import Mailbox
from tests.utils.meeting import CONTACT_EMAIL, book, my_meetings
from tests.utils.page import AVAILABLE_SLOTS, create_page
from tests.utils.settings import REMOVE_INACTIVE_CALENDAR, save_settings_ok
from tests.utils.user import create_user

SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)
OWNER = "ada@example.com"

SETTINGS = """{ me { calendarSettings {
  availabilityCalendars { id name status } inactiveCalendars { id name status isAvailabilityCalendar } } } }"""


async def test_offline_page_turns_a_booking_into_a_request_and_mails_the_owner(
    gql: GraphQLClient, services: Services, mailbox: Mailbox, world: World
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    # when
    result = await book(gql, "intro", SLOT)
    await services.drain()
    # then
    assert result["__typename"] == "BookMeetingSuccess"
    assert result["meeting"]["status"] == "REQUESTED" and result["meeting"]["syncState"] == "NOT_SYNCED"
    assert await my_meetings(gql, token) == [result["meeting"]]
    (mail,) = mailbox.to(OWNER)
    assert CONTACT_EMAIL in mail["Subject"]
    assert all(e.summary == "Busy" for c in world.google.calendars.values() for e in c.events.values())


async def test_offline_request_blocks_the_same_time_for_the_next_visitor(
    gql: GraphQLClient, services: Services, mailbox: Mailbox
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    await book(gql, "intro", SLOT)
    # when
    again = await book(gql, "intro", SLOT, email="dora@example.com")
    await services.drain()
    # then
    assert again["__typename"] == "SlotUnavailableError"
    assert len(await my_meetings(gql, token)) == 1
    assert len(mailbox.to(OWNER)) == 1


async def google_owner_with_team_availability(gql: GraphQLClient, http: httpx.AsyncClient) -> tuple[str, str]:
    _, token = await create_user(gql, OWNER)
    await connect(gql, http, token, "GOOGLE")
    ids = await calendar_ids(gql, token)
    await save_settings_ok(gql, token, availabilityCalendarIds=[ids["Team events"], ids["Colleague (full details)"]])
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    return token, ids["Colleague (full details)"]


async def test_lost_access_to_an_availability_calendar_blocks_booking(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, mailbox: Mailbox
) -> None:
    # given
    token, colleague_id = await google_owner_with_team_availability(gql, http)
    world.google.lose_access(GOOGLE_USER, calendar_named(world.google, "Colleague (full details)"))
    # when
    result = await book(gql, "intro", SLOT)
    await services.drain()
    # then
    assert result["__typename"] == "CalendarAccessLostError"
    assert await my_meetings(gql, token) == []
    assert live_events(world.google, primary_id(world.google, GOOGLE_USER)) == []
    settings = (await gql(SETTINGS, token=token))["me"]["calendarSettings"]
    assert [(c["id"], c["status"]) for c in settings["inactiveCalendars"]] == [(colleague_id, "INACTIVE")]
    (mail,) = mailbox.to(OWNER)
    assert mail["Subject"]
    slots = await gql(
        AVAILABLE_SLOTS, {"slug": "intro", "start": SLOT.isoformat(), "end": (SLOT + timedelta(hours=2)).isoformat()}
    )
    assert slots["schedulingPage"]["availableSlots"] == []


async def test_removing_the_inactive_calendar_lets_bookings_through_again(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, mailbox: Mailbox
) -> None:
    # given
    token, colleague_id = await google_owner_with_team_availability(gql, http)
    world.google.lose_access(GOOGLE_USER, calendar_named(world.google, "Colleague (full details)"))
    assert (await book(gql, "intro", SLOT))["__typename"] == "CalendarAccessLostError"
    # when
    removed = await gql(REMOVE_INACTIVE_CALENDAR, {"id": colleague_id}, token)
    result = await book(gql, "intro", SLOT)
    # then
    assert removed["removeInactiveCalendar"]["__typename"] == "CalendarSettingsSuccess"
    assert result["__typename"] == "BookMeetingSuccess"
    settings = (await gql(SETTINGS, token=token))["me"]["calendarSettings"]
    assert settings["inactiveCalendars"] == []
    assert [c["name"] for c in settings["availabilityCalendars"]] == ["Team events"]
    assert len(live_events(world.google, primary_id(world.google, GOOGLE_USER))) == 1


async def test_an_active_calendar_cannot_be_removed_as_inactive(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token, colleague_id = await google_owner_with_team_availability(gql, http)
    # when
    removed = await gql(REMOVE_INACTIVE_CALENDAR, {"id": colleague_id}, token)
    # then
    assert removed["removeInactiveCalendar"]["__typename"] == "ValidationError"
    settings = (await gql(SETTINGS, token=token))["me"]["calendarSettings"]
    assert colleague_id in [c["id"] for c in settings["availabilityCalendars"]]


async def test_restored_access_makes_the_calendar_active_on_the_next_check(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, mailbox: Mailbox
) -> None:
    # given
    token, colleague_id = await google_owner_with_team_availability(gql, http)
    colleague = calendar_named(world.google, "Colleague (full details)")
    world.google.lose_access(GOOGLE_USER, colleague)
    assert (await book(gql, "intro", SLOT))["__typename"] == "CalendarAccessLostError"
    # when
    world.google.restore_access(GOOGLE_USER, colleague)
    result = await book(gql, "intro", SLOT)
    # then
    assert result["__typename"] == "BookMeetingSuccess"
    settings = (await gql(SETTINGS, token=token))["me"]["calendarSettings"]
    assert settings["inactiveCalendars"] == []
    assert {c["id"]: c["status"] for c in settings["availabilityCalendars"]}[colleague_id] == "ACTIVE"


async def test_revoked_grant_blocks_booking(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, mailbox: Mailbox
) -> None:
    # given
    token, _ = await google_owner_with_team_availability(gql, http)
    world.google.faults.revoked = True
    world.google.oauth.expire_access_tokens()
    # when
    result = await book(gql, "intro", SLOT)
    await services.drain()
    # then
    assert result["__typename"] == "CalendarAccessLostError"
    assert await my_meetings(gql, token) == []
    assert live_events(world.google, primary_id(world.google, GOOGLE_USER)) == []
    assert sorted(str(m["Subject"]) for m in mailbox.to(OWNER)) == [  # the attempt's, and once the revocation's
        f"Calendar access to {GOOGLE_USER} was revoked",
        "Someone tried to book a meeting with you",
    ]
    connections = await gql("{ me { calendarConnections { status } } }", token=token)
    assert connections["me"]["calendarConnections"] == [{"status": "INACTIVE"}]
