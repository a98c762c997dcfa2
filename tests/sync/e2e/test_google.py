"""Calendar sync with Google end to end: a real server behind an https PUBLIC_URL (workers and the sync poller in
process, by the test's clock), the Google emulator over real HTTP notifying the server's /webhooks/google through
its push routes, and nothing observed but through the public API (GraphQL over HTTP and WebSocket) and the
emulator's own records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from starlette.types import ASGIApp, Receive, Scope, Send

from db.models import CalendarEvent
from emulators.google_push import Channel, Delivery, GooglePush
from emulators.state import EmulatedEvent, EmulatedRecurrence
from meetgraph import sync
from meetgraph.settings import Settings
from resolvers.calendar_writes import UPDATE_MEETING, WRITE_MEETING
from tests.subscriptions.conftest import authorized
from tests.utils.calendars import calendar_named, live_events, primary_id
from tests.utils.clock import FakeClock
from tests.utils.connection import DISCONNECT_CALENDAR, calendar_ids, connect
from tests.utils.emulators import GOOGLE_USER, EmulatorServer, World
from tests.utils.graphql import iso, parse
from tests.utils.live import SAFETY_TIMEOUT, LiveDatabases
from tests.utils.meeting import CONTACT_EMAIL, book
from tests.utils.page import AVAILABLE_SLOTS, create_page
from tests.utils.settings import save_settings_ok
from tests.utils.sync_e2e import PLAIN_ORIGIN, SyncStack, sync_stack
from tests.utils.user import create_user

# FakeClock: Tuesday 2026-12-01 08:00 UTC. The page's hours are 09:00-17:00 UTC on weekdays, half-hour slots.
WEDNESDAY = datetime(2026, 12, 2, tzinfo=UTC)
WEDNESDAY_SLOTS = [WEDNESDAY + timedelta(hours=9, minutes=30 * i) for i in range(16)]

CALENDARS = "{ me { calendarConnections { calendars { id name isPrimary status syncMode syncedAt } } } }"
MEETINGS = "{ me { meetings { id start end status source title contactEmail } } }"
SLOTS_CHANGED = """
subscription($slug: String!, $start: DateTime!, $end: DateTime!) {
  availableSlotsChanged(slug: $slug, start: $start, end: $end) { start end } }
"""
RESCHEDULE = """
mutation($id: ID!, $start: DateTime!) { rescheduleMeeting(id: $id, start: $start) {
  __typename ... on MeetingSuccess { meeting { id start end status } } ... on Error { message } } }
"""
WINDOW = {"slug": "intro", "start": iso(WEDNESDAY), "end": iso(WEDNESDAY + timedelta(days=1))}


def at(hour: int, minute: int = 0) -> datetime:
    return WEDNESDAY.replace(hour=hour, minute=minute)


def without(*taken: datetime) -> list[datetime]:
    return [start for start in WEDNESDAY_SLOTS if start not in taken]


@dataclass(frozen=True)
class Owner:
    token: str
    primary: str
    """Emulator id of the primary calendar."""


def push_of(world: World) -> GooglePush:
    push: GooglePush = world.google_app.state.emulator.push
    return push


def api_calls(world: World) -> int:
    return sum(world.google_app.state.calls.values())


@pytest.fixture
async def stack(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, world: World
) -> AsyncIterator[SyncStack]:
    async with sync_stack(settings, databases, clock, [world.google]) as made:
        yield made


async def google_owner(stack: SyncStack, world: World, *, team: bool = False) -> Owner:
    """A Google owner with page "intro" (UTC hours) checking the primary calendar (and "Team events"), once the
    syncs and watches that connecting caused are done."""
    _, token = await create_user(stack.gql, "ada@example.com")
    await connect(stack.gql, stack.http, token, "GOOGLE")
    await save_settings_ok(stack.gql, token, calendarSync=True)
    if team:
        ids = await calendar_ids(stack.gql, token)
        await save_settings_ok(stack.gql, token, availabilityCalendarIds=[ids["Team events"]])
    await create_page(stack.gql, token, slug="intro", timezone="UTC")
    await stack.idle()
    return Owner(token, primary_id(world.google, GOOGLE_USER))


async def calendars(stack: SyncStack, owner: Owner) -> dict[str, dict[str, Any]]:
    data = await stack.gql(CALENDARS, token=owner.token)
    return {c["name"]: c for conn in data["me"]["calendarConnections"] for c in conn["calendars"]}


async def slot_starts(stack: SyncStack) -> list[datetime]:
    data = await stack.gql(AVAILABLE_SLOTS, WINDOW)
    return [parse(s["start"]) for s in data["schedulingPage"]["availableSlots"]]


async def meetings(stack: SyncStack, owner: Owner) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await stack.gql(MEETINGS, token=owner.token))["me"]["meetings"]
    return found


async def slots_become(stack: SyncStack, expected: list[datetime]) -> None:
    """Until availableSlots answers `expected` (asked again after each sync)."""

    async def shown() -> bool:
        return await slot_starts(stack) == expected

    await stack.until(shown, f"availableSlots == {expected}", sync.SYNC_CALENDAR)


async def stored(stack: SyncStack, world: World, provider_calendar_id: str) -> set[tuple[str, datetime, datetime]]:
    from db.models import Calendar

    async with stack.reader.sessionmaker() as session:
        calendar = (
            await session.exec(select(Calendar).where(col(Calendar.provider_calendar_id) == provider_calendar_id))
        ).one()
        rows = await session.exec(select(CalendarEvent).where(col(CalendarEvent.calendar_id) == calendar.id))
        return {(r.provider_event_id, r.start.replace(tzinfo=UTC), r.end.replace(tzinfo=UTC)) for r in rows.all()}


def in_calendar(world: World, calendar_id: str) -> set[tuple[str, datetime, datetime]]:
    return {(e.id, e.start, e.end) for e in live_events(world.google, calendar_id)}


async def store_matches(stack: SyncStack, world: World, calendar_id: str) -> None:
    """Until the store holds what the calendar holds (asked again after each sync), then until all is done."""

    async def matches() -> bool:
        return await stored(stack, world, calendar_id) == in_calendar(world, calendar_id)

    await stack.until(matches, "the store equal to the calendar", sync.SYNC_CALENDAR)
    await stack.idle()


def live_channels(world: World, calendar_id: str) -> list[Channel]:
    push = push_of(world)
    with world.google.lock:
        return [c for c in push.channels.values() if c.calendar_id == calendar_id and push.live(c)]


async def answered(world: World, count: int) -> list[Delivery]:
    """The emulator's deliveries once `count` `exists` messages were answered (bounded)."""

    def done(found: list[Delivery]) -> bool:
        return sum(1 for d in found if d.resource_state == "exists" and d.status is not None) >= count

    found = await asyncio.to_thread(push_of(world).wait_for, done, SAFETY_TIMEOUT)
    assert done(found), found
    return found


def exists_answered(world: World) -> int:
    return sum(1 for d in push_of(world).deliveries if d.resource_state == "exists" and d.status is not None)


def move(event: EmulatedEvent, start: datetime) -> None:
    """Move the event in the calendar, keeping its length (end first when later, so it never ends before it starts)."""
    length = event.end - event.start
    if start > event.start:
        event.end = start + length
        event.start = start
    else:
        event.start = start
        event.end = start + length


# -- 1. first sync ---------------------------------------------------------------------------------------------


async def test_first_sync_fills_the_store_and_pages_answer_without_a_provider_request(
    stack: SyncStack, world: World
) -> None:
    # given: an event in the calendar before connecting
    primary = primary_id(world.google, GOOGLE_USER)
    world.google.add_event(primary, at(10), at(11))
    # when
    owner = await google_owner(stack, world)
    # then
    primary_row = next(c for c in (await calendars(stack, owner)).values() if c["isPrimary"])
    assert primary_row["syncMode"] == "PUSH"
    assert parse(primary_row["syncedAt"]) == stack.clock()
    assert await stored(stack, world, primary) == in_calendar(world, primary)
    (channel,) = live_channels(world, primary)
    assert channel.address == "https://meetgraph.test/webhooks/google"
    (handshake,) = await asyncio.to_thread(push_of(world).wait_for, lambda found: len(found) >= 1, SAFETY_TIMEOUT)
    assert (handshake.channel_id, handshake.resource_state, handshake.status) == (channel.id, "sync", 200)
    before = api_calls(world)
    assert await slot_starts(stack) == without(at(10), at(10, 30))
    assert await slot_starts(stack) == without(at(10), at(10, 30))
    assert api_calls(world) == before


# -- 2. push-driven changes ------------------------------------------------------------------------------------


async def test_changes_in_the_calendar_reach_pages_and_subscribers_through_push(stack: SyncStack, world: World) -> None:
    # given
    owner = await google_owner(stack, world)
    async with authorized(stack.live, owner.token) as client:
        await client.subscribe("s", SLOTS_CHANGED, WINDOW)
        assert [parse(s["start"]) for s in (await client.next_data("s"))["availableSlotsChanged"]] == WEDNESDAY_SLOTS

        async def next_slots() -> list[datetime]:
            return [parse(s["start"]) for s in (await client.next_data("s"))["availableSlotsChanged"]]

        # when: added
        syncs = stack.jobs.count(sync.SYNC_CALENDAR)
        event = world.google.add_event(owner.primary, at(13), at(14))
        # then
        assert await next_slots() == without(at(13), at(13, 30))
        assert await slot_starts(stack) == without(at(13), at(13, 30))
        assert stack.jobs.count(sync.SYNC_CALENDAR) > syncs
        # when: moved (two attribute changes: the subscriber may see the half-moved event first)
        move(event, at(15))
        found = await next_slots()
        while found != without(at(15), at(15, 30)):
            found = await next_slots()
        assert await slot_starts(stack) == without(at(15), at(15, 30))
        # when: deleted
        event.cancelled = True
        assert await next_slots() == WEDNESDAY_SLOTS
        assert await slot_starts(stack) == WEDNESDAY_SLOTS
    assert all(d.status == 200 for d in push_of(world).deliveries)


# -- 3. polling without push -----------------------------------------------------------------------------------


async def test_without_an_https_public_url_the_calendar_is_polled(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, world: World
) -> None:
    async with sync_stack(settings, databases, clock, [world.google], public_url=PLAIN_ORIGIN) as stack:
        # given
        owner = await google_owner(stack, world)
        primary_row = next(c for c in (await calendars(stack, owner)).values() if c["isPrimary"])
        assert primary_row["syncMode"] == "POLL"
        assert world.google_app.state.calls["events.watch"] == 0
        world.google.add_event(owner.primary, at(11), at(12))
        # when: before the poll interval, nothing is read; after it, the poller syncs
        assert await slot_starts(stack) == WEDNESDAY_SLOTS
        clock.advance(seconds=stack.services.settings.sync_poll_seconds + 1)
        # then
        await slots_become(stack, without(at(11), at(11, 30)))
        assert push_of(world).deliveries == []
        assert (await calendars(stack, owner))["Calendar"]["syncMode"] == "POLL"


# -- 4. 410 Gone -----------------------------------------------------------------------------------------------


async def test_an_expired_sync_token_makes_a_full_resync_that_leaves_the_store_equal_to_the_calendar(
    stack: SyncStack, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    owner = await google_owner(stack, world)
    kept = world.google.add_event(owner.primary, at(9), at(10))
    gone = world.google.add_event(owner.primary, at(11), at(12))
    await answered(world, 2)
    await stack.idle()
    # when: Google forgets the sync token; then a change is notified
    world.google.expire_sync_state(owner.primary)
    gone.cancelled = True
    world.google.add_event(owner.primary, at(14), at(15))
    move(kept, at(16))
    await store_matches(stack, world, owner.primary)
    # then
    assert "expired: full sync" in caplog.text
    assert await slot_starts(stack) == without(at(14), at(14, 30), at(16), at(16, 30))


# -- 5. channel renewal and expiry -----------------------------------------------------------------------------


async def test_channels_are_renewed_before_their_expiry_and_an_unrenewed_one_leaves_the_calendar_polled(
    stack: SyncStack, world: World
) -> None:
    # given: Google answers channels of 3 hours
    world.google.google_channel_ttl = timedelta(hours=3)
    owner = await google_owner(stack, world)
    (first,) = live_channels(world, owner.primary)
    assert first.expiration == stack.clock() + timedelta(hours=3)
    renew_before = timedelta(seconds=stack.services.settings.sync_renew_before_seconds)
    # when: the renewal is due
    stack.clock.set(first.expiration - renew_before + timedelta(seconds=1))
    await stack.jobs.ran(sync.STOP_CHANNELS, 1)
    await stack.idle()
    # then: a new channel, the old one stopped at Google, still pushed
    (second,) = live_channels(world, owner.primary)
    assert second.id != first.id and first.stopped
    assert second.expiration == stack.clock() + timedelta(hours=3)
    assert (await calendars(stack, owner))["Calendar"]["syncMode"] == "PUSH"
    # then: changes come through the new channel
    world.google.add_event(owner.primary, at(12), at(13))
    (delivery,) = [d for d in await answered(world, 1) if d.resource_state == "exists"]
    assert (delivery.channel_id, delivery.status) == (second.id, 200)
    await slots_become(stack, without(at(12), at(12, 30)))
    # when: every Google call fails until the channel expired unrenewed
    world.google.faults.fail_next.extend([503] * 10_000)
    renewals = stack.jobs.count(sync.RENEW_CHANNEL)
    watches = stack.jobs.count(sync.WATCH_CALENDAR)
    stack.clock.set(second.expiration - renew_before + timedelta(seconds=1))
    await stack.jobs.ran(sync.RENEW_CHANNEL, renewals + 1)
    stack.clock.set(second.expiration + timedelta(seconds=1))
    await stack.jobs.ran(sync.WATCH_CALENDAR, watches + 1)
    # then
    assert (await calendars(stack, owner))["Calendar"]["syncMode"] == "POLL"
    assert live_channels(world, owner.primary) == []
    # when: Google answers again and the watch is retried
    world.google.faults.fail_next.clear()
    stack.clock.advance(seconds=601)
    await stack.jobs.ran(sync.WATCH_CALENDAR, watches + 2)
    await stack.idle()
    # then
    (third,) = live_channels(world, owner.primary)
    assert third.id not in (first.id, second.id)
    assert (await calendars(stack, owner))["Calendar"]["syncMode"] == "PUSH"


# -- 6. lost access ---------------------------------------------------------------------------------------------


async def test_lost_access_found_by_sync_makes_the_calendar_inactive_until_it_is_restored(
    stack: SyncStack, world: World
) -> None:
    # given
    owner = await google_owner(stack, world, team=True)
    team = calendar_named(world.google, "Team events")
    assert (await calendars(stack, owner))["Team events"]["syncMode"] == "PUSH"
    world.google.lose_access(GOOGLE_USER, team)
    async with authorized(stack.live, owner.token) as client:
        await client.subscribe("s", SLOTS_CHANGED, WINDOW)
        assert len((await client.next_data("s"))["availableSlotsChanged"]) == len(WEDNESDAY_SLOTS)
        # when: the polling safety net syncs the calendars
        stack.clock.advance(seconds=stack.services.settings.sync_safety_net_seconds + 1)

        async def team_is(status: str) -> bool:
            return bool((await calendars(stack, owner))["Team events"]["status"] == status)

        await stack.until(lambda: team_is("INACTIVE"), "Team events INACTIVE", sync.SYNC_CALENDAR)
        # then: followers are told too
        assert (await client.next_data("s"))["availableSlotsChanged"] == []
    assert await slot_starts(stack) == []
    assert (await book(stack.gql, "intro", at(9)))["__typename"] == "CalendarAccessLostError"
    # when: restored, the next polling round finds it readable
    world.google.restore_access(GOOGLE_USER, team)
    stack.clock.advance(seconds=stack.services.settings.sync_poll_seconds + 1)
    await stack.until(lambda: team_is("ACTIVE"), "Team events ACTIVE again", sync.SYNC_CALENDAR)
    # then
    assert await slot_starts(stack) == WEDNESDAY_SLOTS
    assert (await book(stack.gql, "intro", at(9)))["__typename"] == "BookMeetingSuccess"


# -- 7. two-way sync -------------------------------------------------------------------------------------------


async def test_two_way_sync_imports_the_owners_meetings_and_follows_booked_ones(stack: SyncStack, world: World) -> None:
    # given
    owner = await google_owner(stack, world)
    # when: the owner organises a meeting with a contact in the calendar
    world.google.add_event(owner.primary, at(10), at(11), "Coffee with Dora", attendees=["dora@example.com"])

    async def imported() -> bool:
        return any(m["source"] == "CALENDAR" for m in await meetings(stack, owner))

    await stack.until(imported, "the calendar's meeting imported", sync.SYNC_CALENDAR)
    # then
    (coffee,) = await meetings(stack, owner)
    assert (coffee["contactEmail"], coffee["title"], parse(coffee["start"])) == (
        "dora@example.com",
        "Coffee with Dora",
        at(10),
    )
    # when: a visitor books; the booking's event arrives through sync too
    booked = await book(stack.gql, "intro", at(13))
    assert booked["__typename"] == "BookMeetingSuccess", booked
    await stack.jobs.ran(WRITE_MEETING, 1)
    await store_matches(stack, world, owner.primary)
    # then: not imported a second time
    assert sorted(m["source"] for m in await meetings(stack, owner)) == ["CALENDAR", "PAGE"]
    (written,) = [e for e in live_events(world.google, owner.primary) if CONTACT_EMAIL in e.attendees]
    # when: the booked meeting's event is moved in the calendar
    move(written, at(15))

    async def booked_at(start: datetime) -> bool:
        found = [m for m in await meetings(stack, owner) if m["id"] == booked["meeting"]["id"]]
        return parse(found[0]["start"]) == start

    await stack.until(lambda: booked_at(at(15)), "the booked meeting moved", sync.SYNC_CALENDAR)
    await stack.idle()
    # then
    assert (written.start, written.end) == (at(15), at(15, 30))
    assert len(await meetings(stack, owner)) == 2
    # when: deleted in the calendar
    written.cancelled = True

    async def cancelled() -> bool:
        found = [m for m in await meetings(stack, owner) if m["id"] == booked["meeting"]["id"]]
        return bool(found[0]["status"] == "CANCELLED")

    await stack.until(cancelled, "the booked meeting cancelled", sync.SYNC_CALENDAR)
    await stack.idle()
    # then
    assert len(await meetings(stack, owner)) == 2
    assert await slot_starts(stack) == without(at(10), at(10, 30))


# -- 8. reschedule ---------------------------------------------------------------------------------------------


async def test_reschedule_updates_the_event_in_place_and_the_sync_that_follows_changes_nothing(
    stack: SyncStack, world: World
) -> None:
    # given
    owner = await google_owner(stack, world)
    booked = await book(stack.gql, "intro", at(13))
    assert booked["__typename"] == "BookMeetingSuccess", booked
    await stack.jobs.ran(WRITE_MEETING, 1)
    await store_matches(stack, world, owner.primary)
    (event,) = live_events(world.google, owner.primary)
    before = await meetings(stack, owner)
    syncs = stack.jobs.count(sync.SYNC_CALENDAR)
    # when
    moved = await stack.gql(RESCHEDULE, {"id": booked["meeting"]["id"], "start": iso(at(15))}, owner.token)
    # then: the update is notified and synced back
    assert moved["rescheduleMeeting"]["__typename"] == "MeetingSuccess", moved
    await stack.jobs.ran(UPDATE_MEETING, 1)  # run by the request, or by a worker that claimed it first
    (updated,) = live_events(world.google, owner.primary)
    version = updated.seq
    await stack.jobs.ran(sync.SYNC_CALENDAR, syncs + 1)
    await stack.idle()
    (after_event,) = live_events(world.google, owner.primary)
    assert after_event.id == event.id
    assert (after_event.start, after_event.end) == (at(15), at(15, 30))
    (meeting,) = await meetings(stack, owner)
    assert [m["id"] for m in before] == [meeting["id"]]
    assert (parse(meeting["start"]), meeting["status"], meeting["source"]) == (at(15), "BOOKED", "PAGE")
    assert stack.jobs.count(UPDATE_MEETING) == 1
    assert stack.jobs.count(WRITE_MEETING) == 1
    assert after_event.seq == version
    assert await slot_starts(stack) == without(at(15))


async def test_a_booking_whose_create_answer_is_lost_arrives_through_sync_and_is_not_imported(
    stack: SyncStack, world: World
) -> None:
    # given: Google stores the booking's event, then answers 503 (the write is retried with the same event id)
    owner = await google_owner(stack, world)
    world.google.faults.lose_next_create = "503"
    # when
    booked = await book(stack.gql, "intro", at(13))
    assert booked["__typename"] == "BookMeetingSuccess", booked
    await stack.jobs.ran(WRITE_MEETING, 1)
    await store_matches(stack, world, owner.primary)
    # then: one event, one meeting (the page's), nothing imported from the calendar
    (event,) = live_events(world.google, owner.primary)
    assert (event.start, event.end) == (at(13), at(13, 30))
    (meeting,) = await meetings(stack, owner)
    assert (meeting["id"], meeting["source"], meeting["status"]) == (booked["meeting"]["id"], "PAGE", "BOOKED")
    assert await stored(stack, world, owner.primary) == in_calendar(world, owner.primary)


async def test_a_notification_with_a_wrong_channel_token_is_refused_and_syncs_nothing(
    stack: SyncStack, world: World
) -> None:
    # given
    owner = await google_owner(stack, world)
    (channel,) = live_channels(world, owner.primary)
    syncs, calls = stack.jobs.count(sync.SYNC_CALENDAR), api_calls(world)
    headers = {
        "X-Goog-Channel-ID": channel.id,
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "99",
    }
    # when
    wrong = await stack.http.post("/webhooks/google", headers={**headers, "X-Goog-Channel-Token": "forged"})
    unknown = await stack.http.post(
        "/webhooks/google", headers={**headers, "X-Goog-Channel-ID": "nobody", "X-Goog-Channel-Token": "forged"}
    )
    await stack.idle()
    # then
    assert (wrong.status_code, unknown.status_code) == (403, 404)
    assert stack.jobs.count(sync.SYNC_CALENDAR) == syncs
    assert api_calls(world) == calls


async def test_disconnecting_stops_the_channels_at_google(stack: SyncStack, world: World) -> None:
    # given
    owner = await google_owner(stack, world, team=True)
    opened = [c for c in push_of(world).channels.values()]
    assert len(opened) == 2 and all(push_of(world).live(c) for c in opened)
    connection_id = (await stack.gql("{ me { calendarConnections { id } } }", token=owner.token))["me"][
        "calendarConnections"
    ][0]["id"]
    # when
    result = await stack.gql(DISCONNECT_CALENDAR, {"id": connection_id}, owner.token)
    assert result["disconnectCalendar"]["__typename"] == "DisconnectSuccess", result
    await stack.jobs.ran(sync.STOP_CHANNELS, 1)
    await stack.idle()
    # then
    assert all(c.stopped for c in opened)
    world.google.add_event(owner.primary, at(9), at(10))
    assert exists_answered(world) == 0


class ChangeDuringWatch:
    """The Google emulator behind a hook: a change is made in the calendar while the first events.watch request is
    in flight, before Google opens the channel (so no notification will ever tell of it)."""

    def __init__(self, app: ASGIApp, change: Callable[[], None]) -> None:
        self.app, self.change, self.done = app, change, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/events/watch") and not self.done:
            self.done = True
            self.change()
        await self.app(scope, receive, send)


async def test_a_change_made_while_the_channel_was_being_opened_is_synced(
    stack: SyncStack, world: World, emulator_server: tuple[EmulatorServer, str]
) -> None:
    # given: the event is added after the first sync read the calendar, before the channel exists
    primary = primary_id(world.google, GOOGLE_USER)

    def change() -> None:
        world.google.add_event(primary, at(11), at(12))

    hook = ChangeDuringWatch(world.google_app, change)
    emulator_server[0].google.app = hook
    try:
        # when
        owner = await google_owner(stack, world)
    finally:
        emulator_server[0].install(world)
    # then: pushed, and the store has the change
    assert hook.done
    assert (await calendars(stack, owner))["Calendar"]["syncMode"] == "PUSH"
    assert await stored(stack, world, owner.primary) == in_calendar(world, owner.primary)
    assert await slot_starts(stack) == without(at(11), at(11, 30))


async def test_a_series_and_an_all_day_event_pushed_in_block_their_times(stack: SyncStack, world: World) -> None:
    # given
    owner = await google_owner(stack, world)
    # when: a weekly series on Wednesdays, begun a week ago, and an all-day event on Thursday
    world.google.add_event(
        owner.primary,
        at(12) - timedelta(weeks=1),
        at(13) - timedelta(weeks=1),
        "Weekly",
        recurrence=EmulatedRecurrence("weekly", weekdays=(2,)),
    )
    thursday = WEDNESDAY + timedelta(days=1)
    world.google.add_event(owner.primary, thursday, thursday + timedelta(days=1), "Offsite", all_day=True)
    # then
    await slots_become(stack, without(at(12), at(12, 30)))
    data = await stack.gql(
        AVAILABLE_SLOTS,
        {"slug": "intro", "start": iso(thursday), "end": iso(thursday + timedelta(days=1))},
    )
    assert data["schedulingPage"]["availableSlots"] == []
    next_week = {
        "slug": "intro",
        "start": iso(WEDNESDAY + timedelta(weeks=1)),
        "end": iso(thursday + timedelta(weeks=1)),
    }
    data = await stack.gql(AVAILABLE_SLOTS, next_week)
    starts = [parse(s["start"]) for s in data["schedulingPage"]["availableSlots"]]
    assert at(12) + timedelta(weeks=1) not in starts and at(11, 30) + timedelta(weeks=1) in starts


async def test_an_availability_calendar_dropped_from_the_settings_has_its_channel_stopped(
    stack: SyncStack, world: World
) -> None:
    # given
    owner = await google_owner(stack, world, team=True)
    team = calendar_named(world.google, "Team events")
    (channel,) = live_channels(world, team)
    stops = stack.jobs.count(sync.STOP_CHANNELS)
    # when
    await save_settings_ok(stack.gql, owner.token, availabilityCalendarIds=[])
    await stack.jobs.ran(sync.STOP_CHANNELS, stops + 1)
    await stack.idle()
    # then: stopped at Google; the primary still pushed; a change in the team calendar blocks nothing
    assert channel.stopped and live_channels(world, team) == []
    assert len(live_channels(world, owner.primary)) == 1
    world.google.add_event(team, at(9), at(10))
    assert await slot_starts(stack) == WEDNESDAY_SLOTS


async def test_weeks_later_the_store_covers_the_days_pages_can_ask_for(stack: SyncStack, world: World) -> None:
    # given
    owner = await google_owner(stack, world)
    # when: 45 days pass (the channel expired meanwhile); an event is 50 days ahead of then, past the first window
    stack.clock.advance(days=45)
    day = (stack.clock() + timedelta(days=50)).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    world.google.add_event(owner.primary, day.replace(hour=9), day.replace(hour=10))
    window = {"slug": "intro", "start": iso(day), "end": iso(day + timedelta(days=1))}

    async def far_day() -> list[datetime]:
        data = await stack.gql(AVAILABLE_SLOTS, window)
        return [parse(s["start"]) for s in data["schedulingPage"]["availableSlots"]]

    async def pushed_and_covered() -> bool:
        mode = (await calendars(stack, owner))["Calendar"]["syncMode"]
        stored_ids = {event_id for event_id, _, _ in await stored(stack, world, owner.primary)}
        return mode == "PUSH" and {e.id for e in live_events(world.google, owner.primary)} <= stored_ids

    await stack.until(pushed_and_covered, "a new window stored and a new channel", None)
    await stack.idle()
    # then: answered from the store
    before = api_calls(world)
    starts = await far_day()
    assert api_calls(world) == before
    assert day.replace(hour=9) not in starts and day.replace(hour=10) in starts


async def test_a_revoked_grant_found_by_sync_deactivates_the_connection_until_the_account_is_connected_again(
    stack: SyncStack, world: World
) -> None:
    # given
    owner = await google_owner(stack, world)
    world.google.add_event(owner.primary, at(9), at(10))
    await store_matches(stack, world, owner.primary)
    # when: the grant is revoked; the safety net's sync finds out
    world.google.faults.revoked = True
    world.google.oauth.expire_access_tokens()
    stack.clock.advance(seconds=stack.services.settings.sync_safety_net_seconds + 1)

    async def connection_is(status: str) -> bool:
        data = await stack.gql("{ me { calendarConnections { status } } }", token=owner.token)
        return bool([c["status"] for c in data["me"]["calendarConnections"]] == [status])

    await stack.until(lambda: connection_is("INACTIVE"), "the connection INACTIVE", sync.SYNC_CALENDAR)
    await stack.idle()
    # then
    assert await slot_starts(stack) == []
    # when: the owner connects the account again (an OAuth connection is replaced: disconnected, then connected)
    world.google.faults.revoked = False
    (gone,) = (await stack.gql("{ me { calendarConnections { id } } }", token=owner.token))["me"]["calendarConnections"]
    result = await stack.gql(DISCONNECT_CALENDAR, {"id": gone["id"]}, owner.token)
    assert result["disconnectCalendar"]["__typename"] == "DisconnectSuccess", result
    await connect(stack.gql, stack.http, owner.token, "GOOGLE")
    world.google.add_event(owner.primary, at(11), at(12))
    await stack.until(lambda: connection_is("ACTIVE"), "the connection ACTIVE", None)
    await store_matches(stack, world, owner.primary)
    # then: pushed again, the store current, pages answered from it
    assert (await calendars(stack, owner))["Calendar"]["syncMode"] == "PUSH"
    assert len(live_channels(world, owner.primary)) == 1  # the old connection's channel was stopped
    before = api_calls(world)
    assert await slot_starts(stack) == without(at(9), at(9, 30), at(11), at(11, 30))
    assert api_calls(world) == before
