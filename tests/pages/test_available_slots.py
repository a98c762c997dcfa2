from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.utils.calendars import calendar_named, primary_id
from tests.utils.clock import FakeClock
from tests.utils.connection import calendar_ids, connect
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.meeting import book
from tests.utils.page import AVAILABLE_SLOTS, create_page
from tests.utils.settings import DISABLE_PAGES, save_settings_ok
from tests.utils.user import create_user

# FakeClock starts Tuesday 2026-12-01 08:00 UTC (09:00 in Berlin, CET = UTC+1).
WEDNESDAY = datetime(2026, 12, 2, tzinfo=UTC)


def utc(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


async def slot_starts(gql: GraphQLClient, slug: str, start: datetime, end: datetime) -> list[datetime]:
    data = await gql(AVAILABLE_SLOTS, {"slug": slug, "start": start.isoformat(), "end": end.isoformat()})
    slots: list[dict[str, Any]] = data["schedulingPage"]["availableSlots"]
    return [parse(s["start"]) for s in slots]


def half_hours(first: datetime, last: datetime) -> list[datetime]:
    """Every half hour from first to last, inclusive."""
    count = int((last - first) / timedelta(minutes=30)) + 1
    return [first + timedelta(minutes=30 * i) for i in range(count)]


async def google_page(gql: GraphQLClient, http: httpx.AsyncClient, **fields: Any) -> str:
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "GOOGLE")
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin", **fields)
    return token


async def test_weekly_hours_in_berlin_become_utc_slots(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    await google_page(gql, http)
    # when
    starts = await slot_starts(gql, "intro", WEDNESDAY, WEDNESDAY + timedelta(days=1))
    # then: 09:00-17:00 CET is 08:00-16:00 UTC
    assert starts == half_hours(utc(WEDNESDAY, 8), utc(WEDNESDAY, 15, 30))


async def test_busy_time_of_primary_and_availability_calendars_is_excluded_with_buffer(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await google_page(gql, http, bufferMinutes=15)
    ids = await calendar_ids(gql, token)
    await save_settings_ok(gql, token, availabilityCalendarIds=[ids["Team events"]])
    primary = primary_id(world.google, GOOGLE_USER)
    world.google.add_event(primary, utc(WEDNESDAY, 10), utc(WEDNESDAY, 11))
    world.google.add_event(calendar_named(world.google, "Team events"), utc(WEDNESDAY, 13), utc(WEDNESDAY, 13, 30))
    # not an availability calendar: does not block
    world.google.add_event(
        calendar_named(world.google, "Colleague (full details)"), utc(WEDNESDAY, 14), utc(WEDNESDAY, 15)
    )
    # a free (transparent) event does not block either
    world.google.add_event(primary, utc(WEDNESDAY, 8), utc(WEDNESDAY, 9), busy=False)
    # when
    starts = await slot_starts(gql, "intro", WEDNESDAY, WEDNESDAY + timedelta(days=1))
    # then
    blocked = {utc(WEDNESDAY, h, m) for h, m in [(9, 30), (10, 0), (10, 30), (11, 0), (12, 30), (13, 0), (13, 30)]}
    assert starts == [s for s in half_hours(utc(WEDNESDAY, 8), utc(WEDNESDAY, 15, 30)) if s not in blocked]


async def test_minimum_notice_counts_from_the_clock(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    # given
    await google_page(gql, http, minimumNoticeMinutes=120)
    today = datetime(2026, 12, 1, tzinfo=UTC)
    # when
    before = await slot_starts(gql, "intro", today, today + timedelta(days=1))
    clock.advance(minutes=65)
    after = await slot_starts(gql, "intro", today, today + timedelta(days=1))
    # then: now 08:00 + 2h notice; then 09:05 + 2h, rounded up to the next half-hour step
    assert before == half_hours(utc(today, 10), utc(today, 15, 30))
    assert after == half_hours(utc(today, 11, 30), utc(today, 15, 30))


async def test_dst_end_week_gives_correct_utc_instants(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    # given: Berlin leaves summer time on Sunday 2026-10-25 at 03:00 CEST (01:00 UTC)
    clock.set(datetime(2026, 10, 20, 8, tzinfo=UTC))
    hours = [{"weekday": d, "start": "09:00", "end": "10:00"} for d in (6, 7, 1)]
    await google_page(gql, http, weeklyHours=hours, durationMinutes=60)
    # when
    starts = await slot_starts(gql, "intro", datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC))
    # then
    assert starts == [
        datetime(2026, 10, 24, 7, tzinfo=UTC),  # Saturday 09:00 CEST
        datetime(2026, 10, 25, 8, tzinfo=UTC),  # Sunday 09:00 CET
        datetime(2026, 10, 26, 8, tzinfo=UTC),  # Monday 09:00 CET
    ]


async def test_night_hours_across_the_dst_change_are_laid_out_in_real_time(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    # given: 01:00-04:00 local on the night the clocks go back lasts four real hours
    clock.set(datetime(2026, 10, 20, 8, tzinfo=UTC))
    await google_page(gql, http, weeklyHours=[{"weekday": 7, "start": "01:00", "end": "04:00"}], durationMinutes=60)
    # when
    starts = await slot_starts(gql, "intro", datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))
    # then
    assert starts == [datetime(2026, 10, 24, 23, tzinfo=UTC) + timedelta(hours=h) for h in range(4)]


async def test_booked_meetings_block_slots_of_an_offline_page(gql: GraphQLClient) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    booked = await book(gql, "intro", utc(WEDNESDAY, 9))
    assert booked["__typename"] == "BookMeetingSuccess", booked
    # when
    starts = await slot_starts(gql, "intro", WEDNESDAY, WEDNESDAY + timedelta(days=1))
    # then
    assert utc(WEDNESDAY, 9) not in starts and utc(WEDNESDAY, 8, 30) in starts and utc(WEDNESDAY, 9, 30) in starts


async def test_deactivated_pages_offer_nothing(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    token = await google_page(gql, http)
    await gql(DISABLE_PAGES, token=token)
    # when
    starts = await slot_starts(gql, "intro", WEDNESDAY, WEDNESDAY + timedelta(days=1))
    # then
    assert starts == []
