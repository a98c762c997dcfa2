"""rescheduleMeeting: the owner moves a live meeting; the new time is checked like a booking (same lock, same
live provider read, same unique index), and the move and the job that moves the calendar event commit together.

No booking attempt is recorded: attempts are visitors' bookings, and this is the owner's own action.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from db.engine import begin_write
from db.models import CalendarConnection, CalendarSettings, Meeting, SchedulingPage, SyncState
from meetgraph.availability_events import availability_changed
from meetgraph.context import Context
from meetgraph.services import Services
from providers.base import ProviderError
from resolvers import calendar_writes
from resolvers.availability import meeting_busy, owner_busy
from resolvers.ids import owned
from resolvers.pages import page_state, slot_rules
from scheduling import reschedule_rules, slots
from scheduling.booking_rules import LIVE_STATUSES
from scheduling.calendars import ProviderKind
from scheduling.errors import NotFound, ProviderFailure, SlotUnavailable
from scheduling.slots import BusyInterval, SlotRules

MAX_ROUNDS = 3
"""How often the check starts over when the meeting itself changed between the check and the locked write."""


@dataclass(frozen=True)
class _Loaded:
    meeting: Meeting
    connection: CalendarConnection | None
    page: SchedulingPage | None


class _Changed(Exception):
    """The meeting was changed by someone else after it was read: check again against what it is now."""


def _taken() -> SlotUnavailable:
    return SlotUnavailable("That time is not available; please choose another.")


async def reschedule_meeting(ctx: Context, meeting_id: str, start: datetime) -> Meeting:
    """Move the caller's meeting to `start`, keeping its length; a move to where it already is changes nothing."""
    user = ctx.require_user()
    for _ in range(MAX_ROUNDS):
        loaded = await _load(ctx, meeting_id, user.id)
        meeting = loaded.meeting
        kind = ProviderKind(loaded.connection.provider) if loaded.connection is not None else None
        reschedule_rules.check_reschedulable(meeting.status, kind)
        new_start, new_end = reschedule_rules.moved_span(meeting.start, meeting.end, start, now=ctx.now())
        if new_start == meeting.start:
            return meeting
        rules = slot_rules(loaded.page) if loaded.page is not None else None
        await _check_free(ctx, loaded, rules, new_start, new_end)
        buffer = rules.buffer if rules is not None else timedelta(0)
        try:
            job = await _move(ctx.services, meeting, new_start, new_end, buffer)
        except _Changed:
            continue
        await ctx.services.jobs.run_now(job)
        await availability_changed(ctx.services, meeting.user_id)
        async with ctx.db() as session:
            return await session.get(Meeting, meeting.id, populate_existing=True) or meeting
    raise _taken()


async def _load(ctx: Context, meeting_id: str, user_id: uuid.UUID) -> _Loaded:
    async with ctx.db() as session:
        meeting = await owned(session, Meeting, meeting_id, "meeting", user_id=user_id)
        connection = await session.get(CalendarConnection, meeting.connection_id) if meeting.connection_id else None
        page = await session.get(SchedulingPage, meeting.page_id) if meeting.page_id else None
    return _Loaded(meeting, connection, page)


async def _busy_now(ctx: Context, loaded: _Loaded, fetch_start: datetime, fetch_end: datetime) -> list[BusyInterval]:
    """Busy time read as a booking reads it: live from the providers (never a stored copy) plus live meetings;
    only meetings when the owner's calendars are not used (offline page, no connection)."""
    services, owner = ctx.services, loaded.meeting.user_id
    if loaded.page is not None:
        offline = (await page_state(ctx, loaded.page)).offline
    else:
        offline = not await ctx.loaders.connections_by_user.load(owner)
    if offline:
        return await meeting_busy(services, owner, fetch_start, fetch_end)
    try:
        found = await owner_busy(services, owner, fetch_start, fetch_end, live=True)
    except ProviderError as exc:
        raise ProviderFailure("The calendar could not be checked just now; please try again.") from exc
    if found.lost:
        names = ", ".join(sorted({c.name for c in found.lost}))
        raise ProviderFailure(f"The new time cannot be checked: access to {names} is lost.")
    return found.intervals


async def _check_free(ctx: Context, loaded: _Loaded, rules: SlotRules | None, start: datetime, end: datetime) -> None:
    meeting = loaded.meeting
    if rules is not None:
        fetch_start, fetch_end = slots.busy_window_for(
            reschedule_rules.rules_for_meeting(rules, start, end), start, end
        )
    else:
        fetch_start, fetch_end = start, end
    busy = reschedule_rules.without_meeting(
        await _busy_now(ctx, loaded, fetch_start, fetch_end),
        meeting.start,
        meeting.end,
        in_calendar=meeting.provider_calendar_id is not None,
    )
    if rules is not None:
        free = reschedule_rules.page_slot_free(rules, start, end, busy=busy, now=ctx.now())
    else:
        free = reschedule_rules.time_free(start, end, busy=busy)
    if not free:
        raise _taken()


async def _move(
    services: Services, seen: Meeting, start: datetime, end: datetime, buffer: timedelta
) -> uuid.UUID | None:
    """Under the owner's booking lock (bookMeeting's): no other live meeting within the buffer, then the new
    time and the job that moves the event, in one transaction. Returns that job (None: not in a calendar)."""
    async with services.sessionmaker() as session:
        await begin_write(session)
        await session.exec(  # type: ignore[call-overload]
            update(CalendarSettings)
            .where(col(CalendarSettings.user_id) == seen.user_id)
            .values(pages_active=CalendarSettings.pages_active)
        )
        meeting = await session.get(Meeting, seen.id, populate_existing=True)
        if meeting is None:
            raise NotFound("meeting not found")
        if (meeting.status, meeting.start, meeting.end) != (seen.status, seen.start, seen.end):
            await session.rollback()
            raise _Changed
        clash = (
            await session.exec(
                select(Meeting.id).where(
                    Meeting.user_id == meeting.user_id,
                    col(Meeting.id) != meeting.id,
                    col(Meeting.status).in_(LIVE_STATUSES),
                    col(Meeting.start) < end + buffer,
                    col(Meeting.end) > start - buffer,
                )
            )
        ).first()
        if clash is not None:
            await session.rollback()
            raise _taken()
        meeting.start, meeting.end = start, end
        if meeting.provider_event_id is not None:
            meeting.sync_state = SyncState.PENDING
        session.add(meeting)
        try:
            await session.flush()
            job = None
            if meeting.provider_calendar_id is not None and meeting.connection_id is not None:
                job = await calendar_writes.enqueue_update(session, services, meeting)
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise _taken() from None
    return job
