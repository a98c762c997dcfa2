"""Exchange calendar sync end to end, through the public API with the EWS emulator (NTLM): the first sync fills the
store, fresh pages ask Exchange nothing, the poller finds changes with one SyncFolderItems per calendar, lost access
and a changed password found by a poll turn the calendar (connection) inactive, and Exchange has no two-way sync
nor rescheduling."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from db.models import Calendar, CalendarEvent, JobState, Meeting, SyncMode
from meetgraph import sync
from meetgraph.services import Services
from tests.booking import conftest as booking
from tests.reschedule.moves import reschedule
from tests.utils.calendars import calendar_named, primary_id
from tests.utils.clock import FakeClock
from tests.utils.connection import calendar_ids
from tests.utils.emulators import EXCHANGE_USER, EmulatorServer, World
from tests.utils.exchange_traffic import LoginCounter, count_logins
from tests.utils.graphql import GraphQLClient, iso, parse
from tests.utils.mail import Mailbox
from tests.utils.meeting import book, future_slots, my_meetings
from tests.utils.page import AVAILABLE_SLOTS, page_owner
from tests.utils.processes import Processes, database_url
from tests.utils.settings import save_settings, save_settings_ok

OWNER = "ada@example.com"
# FakeClock starts Tuesday 2026-12-01 08:00 UTC; the page is open around the clock, in UTC.
WEDNESDAY = datetime(2026, 12, 2, tzinfo=UTC)
TEN = WEDNESDAY.replace(hour=10)
NEW_PASSWORD = "the-new-password"

CONNECTION = """{ me { calendarConnections { id status inactiveReason
  capabilities { twoWaySync rescheduleMeetings }
  calendars { name status syncMode syncedAt } } } }"""

RECONNECT = """
mutation($id: ID!, $password: String!) { reconnectExchangeCalendar(id: $id, password: $password) {
  __typename ... on Error { message } } }
"""

mailbox = booking.mailbox
"""A real SMTP server on loopback the app's mailer sends to."""


@pytest.fixture
def logins(emulator_server: tuple[EmulatorServer, str], world: World) -> Iterator[LoginCounter]:
    counter, _ = count_logins(emulator_server[0], world)
    yield counter
    emulator_server[0].install(world)


@dataclass(frozen=True)
class Owner:
    token: str
    slug: str
    primary: str
    """Emulator id of the primary calendar."""
    team: str
    """Emulator id of "Team events", chosen as an availability calendar."""


async def exchange_owner(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> Owner:
    """An Exchange owner (connected by autodiscover) whose page checks the primary calendar and "Team events"."""
    owner = await page_owner(gql, http, OWNER, provider="EXCHANGE")
    ids = await calendar_ids(gql, owner.token)
    await save_settings_ok(gql, owner.token, availabilityCalendarIds=[ids["Team events"]])
    return Owner(
        owner.token,
        owner.slug,
        primary_id(world.exchange, EXCHANGE_USER),
        calendar_named(world.exchange, "Team events"),
    )


async def connection_of(gql: GraphQLClient, token: str) -> dict[str, Any]:
    (connection,) = (await gql(CONNECTION, token=token))["me"]["calendarConnections"]
    found: dict[str, Any] = connection
    return found


def calendars_by_name(connection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in connection["calendars"]}


async def slot_starts(gql: GraphQLClient, slug: str, day: datetime = WEDNESDAY) -> list[datetime]:
    data = await gql(AVAILABLE_SLOTS, {"slug": slug, "start": iso(day), "end": iso(day + timedelta(days=1))})
    slots: list[dict[str, Any]] = data["schedulingPage"]["availableSlots"]
    return [parse(s["start"]) for s in slots]


async def stored_events(services: Services, provider_calendar_id: str) -> list[CalendarEvent]:
    async with services.sessionmaker() as session:
        rows = await session.exec(
            select(CalendarEvent)
            .join(Calendar, col(Calendar.id) == CalendarEvent.calendar_id)
            .where(col(Calendar.provider_calendar_id) == provider_calendar_id)
        )
        return list(rows.all())


def ews_requests(world: World) -> int:
    """Every EWS operation (and autodiscover) the emulator answered so far."""
    return sum(world.exchange_app.state.calls.values())


def operations(world: World) -> list[str]:
    return list(world.exchange_app.state.traffic.operations)


async def poll(services: Services, clock: FakeClock) -> int:
    """A poll interval later: one polling round, and the jobs it enqueued run to their end."""
    clock.advance(seconds=services.settings.sync_poll_seconds)
    enqueued = await sync.poll_due(services)
    await services.drain()
    return enqueued


def change_password(world: World, services: Services) -> None:
    """The password changed at the server; the NTLM-signed keep-alive connections of before have ended."""
    account = world.exchange.account(EXCHANGE_USER)
    assert account is not None
    account.password = NEW_PASSWORD
    services.exchange_accounts.close()


async def test_the_first_sync_fills_the_store_and_fresh_pages_ask_exchange_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, clock: FakeClock
) -> None:
    # given: connected; events in both calendars before the first sync runs
    owner = await exchange_owner(gql, http, world)
    world.exchange.add_event(owner.primary, TEN, TEN + timedelta(hours=1), "Dentist")
    world.exchange.add_event(owner.team, TEN.replace(hour=13), TEN.replace(hour=14), "Team lunch")
    # when
    await services.drain()
    # then: both calendars synced (POLL: Exchange pushes nothing), their events stored
    calendars = calendars_by_name(await connection_of(gql, owner.token))
    for name in ("Calendar", "Team events"):
        assert calendars[name]["syncMode"] == "POLL", calendars[name]
        assert parse(calendars[name]["syncedAt"]) == clock()
    assert TEN in {e.start for e in await stored_events(services, owner.primary)}
    assert TEN.replace(hour=13) in {e.start for e in await stored_events(services, owner.team)}
    # when: the page is viewed, again and again, while the store is fresh
    before = ews_requests(world)
    views = [await slot_starts(gql, owner.slug) for _ in range(5)]
    longest = await gql(AVAILABLE_SLOTS, {"slug": owner.slug, "start": iso(TEN), "end": iso(TEN + timedelta(days=62))})
    # then: from the store alone, up to the longest window a page can ask for
    assert ews_requests(world) == before
    assert all(v == views[0] for v in views)
    assert len(longest["schedulingPage"]["availableSlots"]) == 62 * 48 - 2 - 2
    assert TEN not in views[0] and TEN.replace(hour=13) not in views[0]
    assert TEN.replace(hour=9) in views[0] and TEN.replace(hour=11) in views[0]


async def test_the_poller_picks_up_a_change_with_one_sync_folder_items_per_calendar(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, clock: FakeClock
) -> None:
    # given: synced
    owner = await exchange_owner(gql, http, world)
    await services.drain()
    assert TEN in await slot_starts(gql, owner.slug)
    # when: a poll interval passes with no change
    mark = len(operations(world))
    quiet = await poll(services, clock)
    # then: one SyncFolderItems per calendar, nothing else
    assert quiet == 2
    assert operations(world)[mark:] == ["SyncFolderItems", "SyncFolderItems"]
    # when: an event is added in the mailbox; the page, still fresh, does not know it yet
    world.exchange.add_event(owner.primary, TEN, TEN + timedelta(minutes=30), "Call with the bank")
    assert TEN in await slot_starts(gql, owner.slug)
    mark, views_mark = len(operations(world)), len(world.exchange_app.state.traffic.calendar_views)
    await poll(services, clock)
    # then: the changed calendar's window is read again, the other's is not; the page shows the change
    changed = operations(world)[mark:]
    assert changed.count("SyncFolderItems") == 2 and "FindItem" in changed
    read_again = {folder for folder, _, _ in world.exchange_app.state.traffic.calendar_views[views_mark:]}
    assert read_again == {owner.primary}
    assert TEN in {e.start for e in await stored_events(services, owner.primary)}
    before = ews_requests(world)
    starts = await slot_starts(gql, owner.slug)
    assert TEN not in starts and TEN + timedelta(minutes=30) in starts
    assert ews_requests(world) == before
    calendars = calendars_by_name(await connection_of(gql, owner.token))
    assert parse(calendars["Calendar"]["syncedAt"]) == clock()
    # when: the event is deleted in the mailbox
    (added,) = [e for e in world.exchange.live_events(owner.primary) if e.summary == "Call with the bank"]
    added.cancelled = True
    await poll(services, clock)
    # then
    assert TEN not in {e.start for e in await stored_events(services, owner.primary)}
    assert TEN in await slot_starts(gql, owner.slug)


async def test_weeks_later_the_stored_span_moves_on_and_pages_still_ask_exchange_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, clock: FakeClock
) -> None:
    # given: synced (the span: 90 days from now); an event beyond that span
    owner = await exchange_owner(gql, http, world)
    await services.drain()
    far = TEN + timedelta(days=95)
    world.exchange.add_event(owner.primary, far, far + timedelta(hours=1), "Far ahead")
    # when: 45 days pass (the span's end comes within 62 days) and the poller runs
    clock.advance(days=45)
    await sync.poll_due(services)
    await services.drain()
    # then: the span was read again in full, with the new event; the longest window is answered from the store
    assert far in {e.start for e in await stored_events(services, owner.primary)}
    before = ews_requests(world)
    longest = await gql(
        AVAILABLE_SLOTS, {"slug": owner.slug, "start": iso(clock()), "end": iso(clock() + timedelta(days=62))}
    )
    starts = {parse(s["start"]) for s in longest["schedulingPage"]["availableSlots"]}
    assert ews_requests(world) == before
    assert far not in starts and far + timedelta(hours=1) in starts


async def test_lost_access_to_an_availability_calendar_found_by_a_poll_makes_it_inactive(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, clock: FakeClock
) -> None:
    # given
    owner = await exchange_owner(gql, http, world)
    await services.drain()
    world.exchange.lose_access(EXCHANGE_USER, owner.team)
    # when
    await poll(services, clock)
    # then: that calendar is inactive, the connection and its primary calendar are not
    connection = await connection_of(gql, owner.token)
    calendars = calendars_by_name(connection)
    assert calendars["Team events"]["status"] == "INACTIVE"
    assert calendars["Calendar"]["status"] == "ACTIVE"
    assert (connection["status"], connection["inactiveReason"]) == ("ACTIVE", None)
    # when: access comes back
    world.exchange.restore_access(EXCHANGE_USER, owner.team)
    await poll(services, clock)
    # then
    calendars = calendars_by_name(await connection_of(gql, owner.token))
    assert calendars["Team events"]["status"] == "ACTIVE"


async def test_a_changed_password_found_by_a_poll_makes_one_refused_sign_in_and_one_mail(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    services: Services,
    world: World,
    clock: FakeClock,
    logins: LoginCounter,
    mailbox: Mailbox,
) -> None:
    # given: synced, then the password changed at the server
    owner = await exchange_owner(gql, http, world)
    await services.drain()
    change_password(world, services)
    refused, attempts = logins.refused, logins.attempts
    # when: the poller syncs both calendars
    await poll(services, clock)
    # then: one refused sign-in, the connection inactive with its reason, the owner mailed once
    assert (logins.refused - refused, logins.attempts - attempts) == (1, 1)
    connection = await connection_of(gql, owner.token)
    assert (connection["status"], connection["inactiveReason"]) == ("INACTIVE", "PASSWORD_REFUSED")
    (mail,) = [m for m in mailbox.to(OWNER) if "refused the password" in str(m["Subject"])]
    assert len(mailbox.to(OWNER)) == 1, [m["Subject"] for m in mailbox.to(OWNER)]
    # when: more poll intervals pass
    for _ in range(3):
        assert await poll(services, clock) == 0
    # then: nothing signs in with the refused password again, no more mail
    assert logins.attempts - attempts == 1
    assert len(mailbox.to(OWNER)) == 1
    # when: the owner enters the new password, and a change is made in the mailbox meanwhile
    world.exchange.add_event(owner.primary, TEN, TEN + timedelta(hours=1), "Dentist")
    again = await gql(RECONNECT, {"id": connection["id"], "password": NEW_PASSWORD}, owner.token)
    assert again["reconnectExchangeCalendar"]["__typename"] == "ConnectCalendarSuccess", again
    await services.drain()
    # then: both calendars are synced again at once, the change taken in; no sign-in was refused since
    calendars = calendars_by_name(await connection_of(gql, owner.token))
    assert {c["status"] for c in calendars.values()} == {"ACTIVE"}
    assert all(parse(c["syncedAt"]) == clock() for c in calendars.values()), calendars
    assert TEN in {e.start for e in await stored_events(services, owner.primary)}
    assert logins.refused - refused == 1


async def test_exchange_has_no_two_way_sync_and_no_rescheduling(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, clock: FakeClock
) -> None:
    # given: a meeting booked on the page, and one the owner made in Outlook with a contact
    owner = await exchange_owner(gql, http, world)
    booked = await book(gql, owner.slug, TEN)
    assert booked["__typename"] == "BookMeetingSuccess", booked
    await services.drain()
    world.exchange.add_event(
        owner.primary, TEN.replace(hour=14), TEN.replace(hour=15), "Demo", attendees=["carla@example.com"]
    )
    # when: the store takes it in
    await poll(services, clock)
    # then: the capabilities say so, calendar sync cannot be turned on, and nothing is imported
    connection = await connection_of(gql, owner.token)
    assert connection["capabilities"] == {"twoWaySync": False, "rescheduleMeetings": False}
    refused = await save_settings(gql, owner.token, calendarSync=True)
    assert (refused["__typename"], refused.get("field")) == ("ValidationError", "calendarSync"), refused
    assert TEN.replace(hour=14) in {e.start for e in await stored_events(services, owner.primary)}
    (meeting,) = await my_meetings(gql, owner.token)
    assert meeting["id"] == booked["meeting"]["id"]
    async with services.sessionmaker() as session:
        assert len((await session.exec(select(Meeting))).all()) == 1
    # when: the booked meeting is moved through the API
    moved = await reschedule(gql, owner.token, meeting["id"], TEN.replace(hour=16))
    # then
    assert moved["__typename"] == "UnsupportedOperationError", moved
    (event,) = [e for e in world.exchange.live_events(owner.primary) if e.start == TEN]
    assert event.end == TEN + timedelta(minutes=30)
    assert parse((await my_meetings(gql, owner.token))[0]["start"]) == TEN


@pytest.fixture
async def processes(tmp_path: Path, emulator_server: tuple[EmulatorServer, str]) -> AsyncIterator[Processes]:
    """Real meetgraph processes on a SQLite file of their own."""
    async with database_url("sqlite", tmp_path) as url:
        made = Processes(tmp_path, url, emulator_server[1])
        try:
            yield made
        finally:
            await made.close()


async def test_a_worker_process_polls_the_mailbox_on_its_own(processes: Processes, world: World) -> None:
    # given: a web process and a worker polling every second of real time
    server = await processes.server(MEETGRAPH_RUN_WORKERS="false").start()
    await processes.worker(MEETGRAPH_SYNC_POLL_SECONDS="1").start()
    primary = primary_id(world.exchange, EXCHANGE_USER)
    async with server.client() as http:
        owner = await page_owner(GraphQLClient(http), http, OWNER, provider="EXCHANGE")

    async def stored(start: datetime) -> bool:
        rows = await processes.rows(select(CalendarEvent.start).where(col(CalendarEvent.summary) == "Standup"))
        return start in {row.replace(tzinfo=UTC) for row in rows}

    async def polled(rounds: int) -> bool:
        return len(await processes.jobs(sync.SYNC_CALENDAR, JobState.DONE)) >= rounds

    await processes.wait_until(lambda: polled(3), "the first sync and two polls are done")
    start = future_slots(1)[0] + timedelta(days=2, hours=10)
    # when: an event is added in the mailbox
    world.exchange.add_event(primary, start, start + timedelta(minutes=15), "Standup")
    # then: a poll of the worker takes it in, and the page's next view leaves its time out
    await processes.wait_until(lambda: stored(start), "the event is stored")
    async with server.client() as http:
        data = await GraphQLClient(http)(
            AVAILABLE_SLOTS, {"slug": owner.slug, "start": iso(start), "end": iso(start + timedelta(hours=1))}
        )
    assert [parse(s["start"]) for s in data["schedulingPage"]["availableSlots"]] == [start + timedelta(minutes=30)]
    (calendar,) = await processes.rows(select(Calendar).where(col(Calendar.is_primary)))
    assert calendar.sync_mode is SyncMode.POLL and calendar.sync_error is None
