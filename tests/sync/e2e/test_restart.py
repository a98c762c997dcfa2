"""A calendar sync killed (SIGKILL) between reading the provider and committing, with real processes and the real
Google emulator: after the restart the store equals the calendar, each meeting made in the calendar is imported
once, the booked meeting moved in the calendar is moved once, nothing is doubled and the cursor is set."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from db.engine import begin_write, make_sessionmaker
from db.models import Calendar, CalendarEvent, JobState, Meeting
from emulators.state import EmulatorState
from meetgraph import failpoints, sync
from resolvers.calendar_writes import WRITE_MEETING
from tests.utils.calendars import ACCOUNTS, live_events, primary_id, state_of
from tests.utils.databases import POSTGRES_ENV, postgres_url
from tests.utils.emulators import EmulatorServer, World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.meeting import book, future_slots
from tests.utils.page import page_owner
from tests.utils.processes import Processes, database_url
from tests.utils.settings import save_settings_ok

KILLED = -9
EVENTS = 300
INVITES = 6
"""Of the EVENTS, those the owner organised with a contact: each is to become one meeting."""
MEETINGS = "{ me { meetings { id start end status source contactEmail } } }"


@pytest.fixture(params=["sqlite", "postgres"])
async def processes(
    request: pytest.FixtureRequest, tmp_path: Path, emulator_server: tuple[EmulatorServer, str]
) -> AsyncIterator[Processes]:
    """Real meetgraph processes on a fresh database of each backend (PostgreSQL when configured)."""
    if request.param == "postgres" and not postgres_url():
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    async with database_url(str(request.param), tmp_path) as url:
        made = Processes(tmp_path, url, emulator_server[1])
        try:
            yield made
        finally:
            await made.close()


async def meetings(gql: GraphQLClient, token: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await gql(MEETINGS, token=token))["me"]["meetings"]
    return found


async def settled(processes: Processes, *kinds: str) -> bool:
    for kind in kinds:
        if not await processes.settled(kind):
            return False
    return True


async def enqueue_sync(processes: Processes, calendar_id: uuid.UUID, *, full: bool = False) -> None:
    """What a notification or the poller does (full: what an expired cursor leads to): a sync of the calendar, as
    a durable job."""
    async with make_sessionmaker(processes.engine)() as session:
        await begin_write(session)
        await sync.enqueue_sync(session, calendar_id, now=datetime.now(UTC), full=full)
        await session.commit()


def fill_calendar(state: EmulatorState, calendar_id: str, first: datetime) -> list[str]:
    """EVENTS events, every two hours from `first`; INVITES of them (spread out) with a contact. Returns the ids
    of the invitations."""
    invitations = []
    for n in range(EVENTS):
        start = first + timedelta(hours=2 * n, minutes=15)
        if n % (EVENTS // INVITES) == 0:
            event = state.add_event(
                calendar_id, start, start + timedelta(minutes=45), f"Demo {n}", attendees=[f"contact{n}@example.com"]
            )
            invitations.append(event.id)
        else:
            state.add_event(calendar_id, start, start + timedelta(minutes=30), f"Focus {n}")
    return invitations


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_a_sync_killed_before_its_commit_is_applied_once_after_the_restart(
    processes: Processes, world: World, provider: str, full: bool
) -> None:
    # given: a web process running no jobs and a worker; an owner with calendar sync on and one booked meeting
    server = await processes.server(MEETGRAPH_RUN_WORKERS="false").start()
    worker = processes.worker()
    await worker.start()
    slot, moved_to = future_slots(3)[0], future_slots(3)[2] + timedelta(days=1)
    state = state_of(world, provider)
    calendar_id = primary_id(state, ACCOUNTS[provider])
    async with server.client() as http:
        gql = GraphQLClient(http)
        owner = await page_owner(gql, http, "crash@crm.test", provider=provider)
        await save_settings_ok(gql, owner.token, calendarSync=True)
        booked = await book(gql, owner.slug, slot)
        assert booked["__typename"] == "BookMeetingSuccess", booked
        await processes.wait_until(
            lambda: settled(processes, WRITE_MEETING, sync.SYNC_CALENDAR), "the write and first sync are done"
        )
        (primary,) = await processes.rows(select(Calendar).where(col(Calendar.is_primary)))
        await enqueue_sync(processes, primary.id)
        await processes.wait_until(lambda: settled(processes, sync.SYNC_CALENDAR), "the booking's event is synced")
        (event,) = [e for e in live_events(state, calendar_id) if e.start == slot]
        stored_before = sorted(await processes.rows(select(CalendarEvent.provider_event_id)))
        assert event.id in stored_before
        writes = len(await processes.jobs(WRITE_MEETING))
        # the worker stops; meanwhile the calendar fills up and the booked meeting is moved in it
        assert worker.kill() == KILLED
        invitations = fill_calendar(state, calendar_id, slot + timedelta(days=2))
        length = event.end - event.start
        event.start, event.end = moved_to, moved_to + length
        seq_after_move = event.seq
        # when: the next sync (incremental, or a full resync) is killed before it commits
        await worker.start(**{failpoints.ENV: failpoints.SYNC_BEFORE_COMMIT})
        await enqueue_sync(processes, primary.id, full=full)
        assert await worker.exited() == KILLED
        assert f"failpoint {failpoints.SYNC_BEFORE_COMMIT}: SIGKILL" in worker.output()
        # then: nothing of it is committed
        assert sorted(await processes.rows(select(CalendarEvent.provider_event_id))) == stored_before
        (unmoved,) = await meetings(gql, owner.token)
        assert (parse(unmoved["start"]), unmoved["source"]) == (slot, "PAGE")
        # when: the worker restarts and takes the job again once the dead one's lease ends
        await worker.start(**{failpoints.ENV: None})

        async def synced() -> bool:
            done = await processes.jobs(sync.SYNC_CALENDAR, JobState.DONE)
            return bool(done) and await processes.settled(sync.SYNC_CALENDAR)

        await processes.wait_until(synced, "the killed sync is done")
        # then: the store is the calendar over the synced window, the cursor set
        (primary,) = await processes.rows(select(Calendar).where(col(Calendar.is_primary)))
        assert primary.sync_cursor is not None and primary.synced_at is not None
        assert primary.sync_window_start is not None and primary.sync_window_end is not None
        window = (primary.sync_window_start.replace(tzinfo=UTC), primary.sync_window_end.replace(tzinfo=UTC))
        in_calendar = {(e.id, e.start, e.end) for e in state.occurrences(calendar_id, *window) if not e.cancelled}
        rows = await processes.rows(
            select(CalendarEvent.provider_event_id, CalendarEvent.start, CalendarEvent.end).where(
                col(CalendarEvent.calendar_id) == primary.id
            )
        )
        stored = {(i, s.replace(tzinfo=UTC), e.replace(tzinfo=UTC)) for i, s, e in rows}
        assert len(rows) == len(stored) and stored == in_calendar
        # and each invitation is one meeting from the calendar; the booking moved, once, and nothing doubled
        found = await meetings(gql, owner.token)
        imported = [m for m in found if m["source"] == "CALENDAR"]
        assert sorted(m["contactEmail"] for m in imported) == sorted(
            f"contact{n}@example.com" for n in range(0, EVENTS, EVENTS // INVITES)
        )
        (moved,) = [m for m in found if m["source"] == "PAGE"]
        assert (parse(moved["start"]), parse(moved["end"]), moved["status"]) == (moved_to, moved_to + length, "BOOKED")
        assert len(found) == INVITES + 1
        by_event = await processes.rows(
            select(Meeting.provider_event_id, func.count(col(Meeting.id))).group_by(col(Meeting.provider_event_id))
        )
        assert all(count == 1 for _, count in by_event), by_event
        assert {event_id for event_id, _ in by_event} == {*invitations, event.id}
        assert len(await processes.jobs(WRITE_MEETING)) == writes
        assert event.seq == seq_after_move  # meetgraph wrote nothing back to the moved event
