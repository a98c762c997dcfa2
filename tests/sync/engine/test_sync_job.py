"""The calendar.sync job: first sync, incremental apply, full resync on an expired cursor, lost access, a revoked
grant, interleaved syncs, a crash before the commit, and the connect/settings triggers."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from db.models import Calendar, CalendarConnection, CalendarEvent, ConnectionStatus, InactiveReason
from meetgraph import failpoints, sync
from meetgraph.services import Services
from providers.base import CalendarAccessLost, ProviderAuthError, ProviderUnavailable
from resolvers import notify
from scheduling.calendars import selectable_for_availability
from tests.sync.engine.conftest import Owner
from tests.sync.engine.scripted import Script, event
from tests.utils.clock import FakeClock
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.jobs import jobs_of_kind, run_due
from tests.utils.settings import save_settings_ok

CALENDARS = """
{ me { calendarConnections { id status calendars { id isPrimary status syncMode syncedAt } } } }
"""


async def api_calendar(gql: GraphQLClient, owner: Owner) -> dict[str, Any]:
    data = await gql(CALENDARS, token=owner.token)
    (found,) = [
        c for conn in data["me"]["calendarConnections"] for c in conn["calendars"] if c["id"] == str(owner.calendar_id)
    ]
    return found


async def stored(services: Services, owner: Owner) -> dict[str, tuple[Any, ...]]:
    async with services.sessionmaker() as session:
        rows = await session.exec(select(CalendarEvent).where(col(CalendarEvent.calendar_id) == owner.calendar_id))
        return {r.provider_event_id: (r.start, r.end, r.blocks, r.version) for r in rows.all()}


async def calendar_row(services: Services, owner: Owner) -> Calendar:
    async with services.sessionmaker() as session:
        row = await session.get(Calendar, owner.calendar_id)
        assert row is not None
        return row


async def test_first_sync_stores_the_events_and_reports_the_sync_state(
    services: Services, gql: GraphQLClient, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given: the connect enqueued the primary calendar's first sync
    start = clock() + timedelta(days=2)
    script.put(owner.provider_calendar_id, event("a", start))
    script.put(owner.provider_calendar_id, event("b", start + timedelta(hours=2), blocks=False))
    assert (await api_calendar(gql, owner))["syncMode"] == "LIVE"
    # when
    assert sync.SYNC_CALENDAR in await run_due(services)
    # then
    calendar = await api_calendar(gql, owner)
    assert calendar["syncMode"] == "POLL"
    assert parse(calendar["syncedAt"]) == clock()
    assert await stored(services, owner) == {
        "a": (start, start + timedelta(minutes=30), True, "1"),
        "b": (start + timedelta(hours=2), start + timedelta(hours=2, minutes=30), False, "1"),
    }
    assert [call.cursor for call in script.sync_calls] == [None]
    row = await calendar_row(services, owner)
    assert row.sync_window_start is not None and row.sync_window_end is not None
    assert row.sync_window_end - clock() >= timedelta(days=62)


async def test_an_incremental_sync_applies_changes_and_removals(
    services: Services, gql: GraphQLClient, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given
    start = clock() + timedelta(days=1)
    script.put(owner.provider_calendar_id, event("a", start))
    script.put(owner.provider_calendar_id, event("b", start + timedelta(hours=1)))
    await run_due(services)
    first_cursor = (await calendar_row(services, owner)).sync_cursor
    # when: one moved, one deleted, one new
    script.put(owner.provider_calendar_id, event("a", start + timedelta(hours=3), version="2"))
    script.remove(owner.provider_calendar_id, "b")
    script.put(owner.provider_calendar_id, event("c", start + timedelta(hours=5)))
    clock.advance(minutes=5)
    await sync.request_sync(services, [owner.calendar_id])
    await run_due(services)
    # then
    assert [call.cursor for call in script.sync_calls] == [None, first_cursor]
    assert await stored(services, owner) == {
        "a": (start + timedelta(hours=3), start + timedelta(hours=3, minutes=30), True, "2"),
        "c": (start + timedelta(hours=5), start + timedelta(hours=5, minutes=30), True, "1"),
    }
    assert parse((await api_calendar(gql, owner))["syncedAt"]) == clock()


async def test_an_expired_cursor_gets_a_full_resync_in_the_same_job_that_replaces_the_store(
    services: Services, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given: a synced calendar whose cursor the provider then forgets, with an event deleted meanwhile
    start = clock() + timedelta(days=1)
    script.put(owner.provider_calendar_id, event("kept", start))
    script.put(owner.provider_calendar_id, event("gone", start + timedelta(hours=1)))
    await run_due(services)
    cursor = (await calendar_row(services, owner)).sync_cursor
    assert cursor is not None
    script.expired.add(cursor)
    script.events[owner.provider_calendar_id].pop("gone")
    script.put(owner.provider_calendar_id, event("new", start + timedelta(hours=2)))
    # when
    await sync.request_sync(services, [owner.calendar_id])
    assert await run_due(services) == [sync.SYNC_CALENDAR]
    # then
    assert [call.cursor for call in script.sync_calls] == [None, cursor, None]
    assert set(await stored(services, owner)) == {"kept", "new"}
    assert (await calendar_row(services, owner)).sync_cursor not in (None, cursor)


async def test_lost_access_makes_the_calendar_inactive_and_a_readable_one_active_again(
    services: Services, gql: GraphQLClient, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given
    script.failures.append(CalendarAccessLost([owner.provider_calendar_id]))
    # when
    await run_due(services)
    # then
    calendar = await api_calendar(gql, owner)
    assert (calendar["status"], calendar["syncedAt"]) == ("INACTIVE", None)
    assert (await calendar_row(services, owner)).sync_error is not None
    # when: readable again
    script.put(owner.provider_calendar_id, event("a", clock() + timedelta(days=1)))
    await sync.request_sync(services, [owner.calendar_id])
    await run_due(services)
    # then
    calendar = await api_calendar(gql, owner)
    assert calendar["status"] == "ACTIVE"
    assert parse(calendar["syncedAt"]) == clock()
    assert (await calendar_row(services, owner)).sync_error is None


async def test_a_revoked_grant_makes_the_connection_inactive_with_one_owner_mail(
    services: Services, gql: GraphQLClient, script: Script, owner: Owner
) -> None:
    # given: two syncs in a row meet the revoked grant
    script.failures.extend([ProviderAuthError("invalid_grant"), ProviderAuthError("invalid_grant")])
    # when
    await run_due(services)
    await sync.request_sync(services, [owner.calendar_id])
    await run_due(services)
    # then: the second never reached the provider (the connection is INACTIVE)
    data = await gql(CALENDARS, token=owner.token)
    (connection,) = data["me"]["calendarConnections"]
    assert connection["status"] == "INACTIVE"
    async with services.sessionmaker() as session:
        row = await session.get(CalendarConnection, owner.connection_id)
        assert row is not None and row.inactive_reason is InactiveReason.ACCESS_REVOKED
    assert len(script.sync_calls) == 1
    mails = [
        job
        for job in await jobs_of_kind(services, notify.MAIL_OWNER)
        if job.payload.get("template") == "connection_inactive"
    ]
    assert len(mails) == 1


async def test_a_transient_failure_is_retried_and_kept_for_operators(
    services: Services, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given
    script.failures.append(ProviderUnavailable("503 backend error"))
    # when
    await run_due(services)
    # then
    row = await calendar_row(services, owner)
    assert (row.sync_error, row.synced_at) == ("503 backend error", None)
    (job,) = await jobs_of_kind(services, sync.SYNC_CALENDAR)
    assert job.state.value == "PENDING" and job.run_at > clock()
    # when: the retry is due
    clock.advance(seconds=services.settings.job_backoff_max_seconds)
    await run_due(services)
    # then
    row = await calendar_row(services, owner)
    assert (row.sync_error, row.synced_at) == (None, clock())


async def test_a_sync_that_loses_the_race_for_the_cursor_applies_nothing_and_retries(
    services: Services, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given: two syncs fetched from the same state; the first applies
    start = clock() + timedelta(days=1)
    script.put(owner.provider_calendar_id, event("a", start))
    await run_due(services)
    calendar = await calendar_row(services, owner)
    async with services.sessionmaker() as session:
        connection = await session.get(CalendarConnection, owner.connection_id)
        assert connection is not None
    script.put(owner.provider_calendar_id, event("b", start + timedelta(hours=1)))
    first = script.sync(owner.provider_calendar_id, calendar.sync_cursor, start, start)
    script.put(owner.provider_calendar_id, event("c", start + timedelta(hours=2)))
    second = script.sync(owner.provider_calendar_id, calendar.sync_cursor, start, start)
    assert await sync.apply_batch(services, calendar, connection, first, now=clock())
    # when / then: the second, from the same cursor, is refused whole
    with pytest.raises(sync.CursorMoved):
        await sync.apply_batch(services, calendar, connection, second, now=clock())
    assert set(await stored(services, owner)) == {"a", "b"}
    # and a retry from the new cursor brings the rest
    await sync.request_sync(services, [owner.calendar_id])
    await run_due(services)
    assert set(await stored(services, owner)) == {"a", "b", "c"}


async def test_a_crash_before_the_commit_keeps_the_old_cursor_and_the_rerun_applies_once(
    services: Services, script: Script, clock: FakeClock, owner: Owner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the process "dies" between fetching and committing (the failpoint raises instead of SIGKILL)
    class Died(BaseException):
        pass

    def die(name: str) -> None:
        if name == failpoints.SYNC_BEFORE_COMMIT:
            raise Died

    script.put(owner.provider_calendar_id, event("a", clock() + timedelta(days=1)))
    monkeypatch.setattr(sync, "failpoint", die)
    (job,) = await services.jobs.claim(limit=1)
    with pytest.raises(Died):
        await services.jobs.execute(job)
    # then: nothing applied
    assert await stored(services, owner) == {}
    assert (await calendar_row(services, owner)).sync_cursor is None
    # when: the lease runs out and a worker takes the job again
    monkeypatch.setattr(sync, "failpoint", lambda name: None)
    clock.advance(seconds=services.settings.job_lease_seconds + 1)
    assert await run_due(services) == [sync.SYNC_CALENDAR]
    # then
    assert set(await stored(services, owner)) == {"a"}
    assert (await calendar_row(services, owner)).synced_at == clock()


async def test_choosing_an_availability_calendar_syncs_it_and_dropping_it_empties_its_store(
    services: Services, gql: GraphQLClient, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given
    await run_due(services)
    async with services.sessionmaker() as session:
        others = (
            await session.exec(
                select(Calendar).where(
                    col(Calendar.connection_id) == owner.connection_id, col(Calendar.is_primary).is_(False)
                )
            )
        ).all()
    other = next(c for c in others if selectable_for_availability(c.access_role))
    script.put(other.provider_calendar_id, event("x", clock() + timedelta(days=1)))
    # when
    await save_settings_ok(gql, owner.token, availabilityCalendarIds=[str(other.id)])
    await run_due(services)
    # then
    async with services.sessionmaker() as session:
        events = (
            await session.exec(
                select(CalendarEvent.provider_event_id).where(col(CalendarEvent.calendar_id) == other.id)
            )
        ).all()
        assert list(events) == ["x"]
    # when: dropped
    await save_settings_ok(gql, owner.token, availabilityCalendarIds=[])
    # then
    async with services.sessionmaker() as session:
        events = (await session.exec(select(CalendarEvent.id).where(col(CalendarEvent.calendar_id) == other.id))).all()
        row = await session.get(Calendar, other.id)
    assert list(events) == []
    assert row is not None and (row.sync_mode.value, row.synced_at, row.sync_cursor) == ("LIVE", None, None)
    assert row.status is ConnectionStatus.ACTIVE


@pytest.mark.parametrize("seed", [1, 2])
async def test_after_every_sync_the_store_equals_the_calendar(
    services: Services, script: Script, clock: FakeClock, owner: Owner, seed: int
) -> None:
    """Random changes between syncs (incremental, forced full, expired cursors): the store always ends equal to
    the provider's events."""
    rng = random.Random(seed)
    base = clock() + timedelta(days=1)
    calendar_id = owner.provider_calendar_id
    for _ in range(25):
        # given: some changes at the provider
        for _ in range(rng.randint(0, 6)):
            event_id = f"e{rng.randint(0, 12)}"
            if rng.random() < 0.3:
                script.remove(calendar_id, event_id)
            else:
                start = base + timedelta(minutes=15 * rng.randint(0, 400))
                script.put(calendar_id, event(event_id, start, blocks=rng.random() < 0.8, version=str(rng.random())))
        cursor = (await calendar_row(services, owner)).sync_cursor
        if cursor is not None and rng.random() < 0.15:
            script.expired.add(cursor)
        # when
        clock.advance(minutes=1)
        await sync.request_sync(services, [owner.calendar_id], full=rng.random() < 0.15)
        assert sync.SYNC_CALENDAR in await run_due(services)
        # then
        expected = {e.id: (e.start, e.end, e.blocks, e.version) for e in script.events.get(calendar_id, {}).values()}
        assert await stored(services, owner) == expected


async def test_a_sync_that_applied_meanwhile_with_the_same_cursor_also_makes_the_other_retry(
    services: Services, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given: two syncs loaded the calendar at the same version; the first applies a change but its provider
    # answered the cursor it started from (so only synced_at tells the versions apart)
    start = clock() + timedelta(days=1)
    script.put(owner.provider_calendar_id, event("a", start))
    await run_due(services)
    calendar = await calendar_row(services, owner)
    async with services.sessionmaker() as session:
        connection = await session.get(CalendarConnection, owner.connection_id)
        assert connection is not None
    script.put(owner.provider_calendar_id, event("b", start + timedelta(hours=1)))
    first = script.sync(owner.provider_calendar_id, calendar.sync_cursor, start, start)
    second = script.sync(owner.provider_calendar_id, calendar.sync_cursor, start, start)
    assert calendar.sync_cursor is not None
    clock.advance(seconds=1)
    assert await sync.apply_batch(
        services, calendar, connection, dataclasses.replace(first, cursor=calendar.sync_cursor), now=clock()
    )
    # when / then: the second (finding nothing new against the store it would carry reads from) is refused
    with pytest.raises(sync.CursorMoved):
        await sync.apply_batch(services, calendar, connection, second, now=clock())
    assert set(await stored(services, owner)) == {"a", "b"}
