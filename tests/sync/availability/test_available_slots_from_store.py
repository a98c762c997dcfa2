"""availableSlots from the event store when the owner's calendars are fresh, live from the provider otherwise."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, delete, select

from db.models import CalendarEvent, ConnectionStatus, Job, SchedulingPage, SyncMode
from meetgraph import sync
from meetgraph.services import Services
from resolvers.availability import owner_busy
from resolvers.pages import slot_rules
from scheduling.slots import busy_window_for
from scheduling.sync_rules import LOOKBACK
from tests.sync.availability.conftest import Counted, JoinedReads, calendar_row, google_owner, mark_synced
from tests.utils.calendars import primary_id
from tests.utils.clock import FakeClock
from tests.utils.connection import connect
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.meeting import book
from tests.utils.page import AVAILABLE_SLOTS, create_page
from tests.utils.user import create_user

# FakeClock starts Tuesday 2026-12-01 08:00 UTC; the page's hours are 09:00-17:00 Berlin (08:00-16:00 UTC).
WEDNESDAY = datetime(2026, 12, 2, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: datetime = WEDNESDAY) -> datetime:
    return day.replace(hour=hour, minute=minute)


async def slot_starts(gql: GraphQLClient, slug: str, day: datetime = WEDNESDAY) -> list[datetime]:
    data = await gql(
        AVAILABLE_SLOTS, {"slug": slug, "start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()}
    )
    slots: list[dict[str, Any]] = data["schedulingPage"]["availableSlots"]
    return [parse(s["start"]) for s in slots]


async def page_row(services: Services, slug: str) -> SchedulingPage:
    async with services.sessionmaker() as session:
        return (await session.exec(select(SchedulingPage).where(SchedulingPage.slug == slug))).one()


async def sync_jobs(services: Services) -> list[str]:
    async with services.sessionmaker() as session:
        rows = (await session.exec(select(Job.payload).where(col(Job.kind) == sync.SYNC_CALENDAR))).all()
    return sorted(str(payload["calendar_id"]) for payload in rows)


@pytest.fixture
def sync_requests(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every request_sync call (calendar ids), passed on to the real one."""
    calls: list[list[str]] = []
    real = sync.request_sync

    async def recording(services: Services, calendar_ids: Any, *, full: bool = False) -> None:
        calls.append(sorted(str(c) for c in calendar_ids))
        await real(services, calendar_ids, full=full)

    monkeypatch.setattr(sync, "request_sync", recording)
    return calls


async def test_fresh_calendars_answer_from_the_store_without_a_provider_request(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, counted: Counted
) -> None:
    # given: both calendars synced; the emulator has an event the store has not taken in
    owner = await google_owner(gql, http, world)
    await mark_synced(services, owner.primary, events=[(at(10), at(11))])
    await mark_synced(services, owner.team, mode=SyncMode.PUSH, events=[(at(13), at(13, 30))])
    world.google.add_event(owner.primary, at(14), at(15))
    before = counted.google.total()
    # when
    starts = await slot_starts(gql, owner.slug)
    # then
    assert counted.google.total() == before
    assert at(10) not in starts and at(10, 30) not in starts and at(13) not in starts
    assert at(9, 30) in starts and at(11) in starts and at(14) in starts and at(14, 30) in starts


async def test_a_sync_that_changes_the_store_shows_on_the_next_view(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock, counted: Counted
) -> None:
    # given: a first view read from the store
    owner = await google_owner(gql, http, world)
    await mark_synced(services, owner.primary, events=[(at(10), at(11))])
    await mark_synced(services, owner.team)
    first = await slot_starts(gql, owner.slug)
    # when: a later sync takes in an event; then one at the same instant (same synced_at) with a new cursor
    clock.advance(seconds=30)
    await mark_synced(services, owner.primary, events=[(at(14), at(15))])
    second = await slot_starts(gql, owner.slug)
    await mark_synced(services, owner.primary, events=[(at(12), at(12, 30))], cursor="after-one-more-change")
    third = await slot_starts(gql, owner.slug)
    # then
    assert at(14) in first and at(14) not in second
    assert at(12) in second and at(12) not in third and at(14) not in third
    assert at(10) not in third
    assert counted.google.busy_reads() == 0


async def test_a_stored_event_that_does_not_block_leaves_its_time_free(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, counted: Counted
) -> None:
    # given
    owner = await google_owner(gql, http, world)
    primary = await mark_synced(services, owner.primary)
    await mark_synced(services, owner.team)
    async with services.sessionmaker() as session:
        session.add(
            CalendarEvent(
                calendar_id=primary.id,
                provider_event_id="free",
                start=at(10),
                end=at(11),
                blocks=False,
                status="transparent",
            )
        )
        await session.commit()
    # when
    starts = await slot_starts(gql, owner.slug)
    # then
    assert at(10) in starts and at(10, 30) in starts
    assert counted.google.busy_reads() == 0


async def test_a_stale_calendar_is_read_live(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock, counted: Counted
) -> None:
    # given: POLL calendars last synced three poll intervals ago
    owner = await google_owner(gql, http, world)
    synced = clock() - timedelta(seconds=3 * services.settings.sync_poll_seconds)
    await mark_synced(services, owner.primary, synced_at=synced, events=[(at(10), at(11))])
    await mark_synced(services, owner.team, synced_at=synced)
    world.google.add_event(owner.primary, at(14), at(15))
    # when
    starts = await slot_starts(gql, owner.slug)
    # then: the provider's current events count, not the store's
    assert counted.google.busy_reads() == 1
    assert at(14) not in starts and at(14, 30) not in starts
    assert at(10) in starts


async def test_a_window_beyond_the_stored_span_is_read_live(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock, counted: Counted
) -> None:
    # given: the store spans until Wednesday noon only
    owner = await google_owner(gql, http, world)
    window = (clock() - LOOKBACK, at(12))
    await mark_synced(services, owner.primary, window=window, events=[(at(10), at(11))])
    await mark_synced(services, owner.team, window=window)
    world.google.add_event(owner.primary, at(14), at(15))
    # when
    starts = await slot_starts(gql, owner.slug)
    # then
    assert counted.google.busy_reads() == 1
    assert at(14) not in starts and at(10) in starts


async def test_a_never_synced_calendar_requests_one_sync_not_one_per_view(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    clock: FakeClock,
    counted: Counted,
    sync_requests: list[list[str]],
) -> None:
    # given: calendars as connected (LIVE, never synced)
    owner = await google_owner(gql, http, world)
    primary, team = await calendar_row(services, owner.primary), await calendar_row(services, owner.team)
    assert primary.sync_mode is SyncMode.LIVE and primary.synced_at is None
    # when
    for _ in range(5):
        await slot_starts(gql, owner.slug)
    # then: each view read the provider; one sync was requested for the two calendars, and it is queued
    assert counted.google.busy_reads() == 5
    assert sync_requests == [sorted([str(primary.id), str(team.id)])]
    assert await sync_jobs(services) == sorted([str(primary.id), str(team.id)])
    # when: a poll interval later, still not synced
    clock.advance(seconds=services.settings.sync_poll_seconds)
    await slot_starts(gql, owner.slug)
    await slot_starts(gql, owner.slug)
    # then: requested again, once
    assert len(sync_requests) == 2


async def test_fresh_and_cold_calendars_of_one_owner_mix(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    counted: Counted,
    sync_requests: list[list[str]],
) -> None:
    # given: the primary is synced, "Team events" is not yet
    owner = await google_owner(gql, http, world)
    await mark_synced(services, owner.primary, events=[(at(10), at(11))])
    world.google.add_event(owner.primary, at(14), at(15))  # after the store's sync: not seen yet
    world.google.add_event(owner.team, at(12), at(12, 30))
    team = await calendar_row(services, owner.team)
    # when
    starts = await slot_starts(gql, owner.slug)
    # then: the stored primary and the live "Team events" both block; only "Team events" was asked for
    assert at(10) not in starts and at(12) not in starts
    assert at(14) in starts
    assert counted.google.busy_reads() == 1
    asked = json.loads(counted.google.busy_bodies[0])
    assert [item["id"] for item in asked["items"]] == [owner.team]
    assert sync_requests == [[str(team.id)]]


async def test_an_inactive_calendar_blocks_the_page_even_when_fresh_in_the_store(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, counted: Counted
) -> None:
    # given: "Team events" lost (marked inactive) although its store looks fresh
    owner = await google_owner(gql, http, world)
    await mark_synced(services, owner.primary)
    team = await mark_synced(services, owner.team)
    world.google.lose_access(GOOGLE_USER, owner.team)
    async with services.sessionmaker() as session:
        team.status = ConnectionStatus.INACTIVE
        session.add(team)
        await session.commit()
    # when
    lost = await slot_starts(gql, owner.slug)
    world.google.restore_access(GOOGLE_USER, owner.team)
    back = await slot_starts(gql, owner.slug)
    # then: read live both times; nothing offered while lost, offered again (and active) once readable
    assert lost == []
    assert len(back) == 16
    assert (await calendar_row(services, owner.team)).status is ConnectionStatus.ACTIVE
    assert counted.google.busy_reads() == 2


async def test_a_calendar_found_lost_live_is_marked_inactive_as_before(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock, counted: Counted
) -> None:
    # given: a stale store (read live) and access to "Team events" lost at the provider
    owner = await google_owner(gql, http, world)
    synced = clock() - timedelta(seconds=3 * services.settings.sync_poll_seconds)
    await mark_synced(services, owner.primary, synced_at=synced)
    await mark_synced(services, owner.team, synced_at=synced)
    world.google.lose_access(GOOGLE_USER, owner.team)
    # when
    starts = await slot_starts(gql, owner.slug)
    # then
    assert starts == []
    assert (await calendar_row(services, owner.team)).status is ConnectionStatus.INACTIVE
    assert (await calendar_row(services, owner.primary)).status is ConnectionStatus.ACTIVE


async def test_booking_rechecks_the_slot_against_the_provider_not_the_store(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, counted: Counted
) -> None:
    # given: the store (fresh) is empty, the provider has an event at 10:00 not synced yet
    owner = await google_owner(gql, http, world)
    await mark_synced(services, owner.primary)
    await mark_synced(services, owner.team)
    world.google.add_event(owner.team, at(10), at(11))
    offered = await slot_starts(gql, owner.slug)
    assert at(10) in offered and counted.google.busy_reads() == 0
    # when
    refused = await book(gql, owner.slug, at(10))
    booked = await book(gql, owner.slug, at(11), email="other@example.org")
    # then
    assert refused["__typename"] == "SlotUnavailableError", refused
    assert booked["__typename"] == "BookMeetingSuccess", booked
    assert counted.google.busy_reads() == 2


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_concurrent_cold_views_share_one_provider_fetch(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, counted: Counted, provider: str
) -> None:
    # given: a page whose calendars are cold; the provider holds busy reads until 50 views wait for one
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, provider)
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    emulator = counted.of(provider)
    joined = JoinedReads(expected=50)
    services.events = joined
    emulator.release.clear()
    # when
    views = [asyncio.ensure_future(slot_starts(gql, "intro")) for _ in range(50)]
    try:
        await asyncio.wait_for(joined.all_joined.wait(), timeout=60)
    finally:
        emulator.release.set()
    results = await asyncio.gather(*views)
    shared_reads = emulator.busy_reads()
    await slot_starts(gql, "intro")
    one_view = emulator.busy_reads() - shared_reads
    # then: the 50 views made the requests one view makes, and all got the same slots
    assert one_view >= 1
    assert shared_reads == one_view
    assert all(r == results[0] for r in results) and results[0]


async def test_a_read_that_lands_is_not_served_to_later_views(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, counted: Counted
) -> None:
    # given
    owner = await google_owner(gql, http, world)
    await slot_starts(gql, owner.slug)
    # when: an event is added after the first view's read landed
    world.google.add_event(primary_id(world.google, GOOGLE_USER), at(14), at(15))
    starts = await slot_starts(gql, owner.slug)
    # then
    assert at(14) not in starts
    assert counted.google.busy_reads() == 2
    assert services.live_reads.in_flight() == 0


async def test_a_view_that_began_before_a_shared_read_landed_takes_it_however_late_it_asks(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, counted: Counted
) -> None:
    # given: a view begins, then (as if queued on the database pool) asks only after another view's live read of
    # the same calendars landed; meanwhile the provider gained an event
    owner = await google_owner(gql, http, world)
    page = await page_row(services, owner.slug)
    start, end = busy_window_for(slot_rules(page), WEDNESDAY, WEDNESDAY + timedelta(days=1))
    queued_since = time.monotonic()
    await slot_starts(gql, owner.slug)
    world.google.add_event(owner.primary, at(10), at(11))
    # when
    queued = await owner_busy(services, page.user_id, start, end, arrived=queued_since)
    fetches_for_queued = counted.google.busy_reads()
    later = await owner_busy(services, page.user_id, start, end)
    # then: the queued view took the landed read (no provider request); a view begun after it landed read again
    assert fetches_for_queued == 1
    assert not any(i.start == at(10) for i in queued.intervals)
    assert any(i.start == at(10) for i in later.intervals)
    assert counted.google.busy_reads() == 2


async def test_a_booking_never_takes_a_shared_read_that_landed(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, counted: Counted
) -> None:
    # given: a view's live read landed, then the provider gained an event at 10:00 and the view's slots show it free
    owner = await google_owner(gql, http, world)
    assert at(10) in await slot_starts(gql, owner.slug)
    world.google.add_event(owner.primary, at(10), at(11))
    # when
    refused = await book(gql, owner.slug, at(10))
    # then: the booking read the provider itself
    assert refused["__typename"] == "SlotUnavailableError", refused
    assert counted.google.busy_reads() == 2


async def test_a_sync_with_nothing_new_keeps_the_store_read_and_one_with_a_change_reads_again(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock, counted: Counted
) -> None:
    # given: the first sync ran, a view read the store; then a stored row vanishes behind the engine's back
    # (only so that a read of the store would show: the engine never does this)
    owner = await google_owner(gql, http, world)
    world.google.add_event(owner.primary, at(10), at(11))
    await services.drain()
    primary = await calendar_row(services, owner.primary)
    assert primary.sync_mode is SyncMode.POLL
    assert at(10) not in await slot_starts(gql, owner.slug)
    async with services.sessionmaker() as session:
        await session.exec(delete(CalendarEvent).where(col(CalendarEvent.calendar_id) == primary.id))  # type: ignore[call-overload]
        await session.commit()
    # when: a sync with nothing new
    clock.advance(seconds=30)
    await sync.request_sync(services, [primary.id])
    await services.drain()
    after_nothing_new = await slot_starts(gql, owner.slug)
    # and a sync that takes in a change
    world.google.add_event(owner.primary, at(14), at(15))
    clock.advance(seconds=30)
    await sync.request_sync(services, [primary.id])
    await services.drain()
    after_a_change = await slot_starts(gql, owner.slug)
    # then: the read kept for the calendar's previous version answered after the first (no re-read), not after
    # the second, which read the store again (where 10:00 is gone and 14:00 arrived)
    assert (await calendar_row(services, owner.primary)).synced_at == clock()
    assert at(10) not in after_nothing_new
    assert at(10) in after_a_change and at(14) not in after_a_change
    assert counted.google.busy_reads() == 0
