"""Meetings logged on CRM records, and cancelling meetings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import (
    Calendar,
    CalendarConnection,
    CalendarSettings,
    Meeting,
    MeetingSource,
    MeetingStatus,
    SyncState,
)
from meetgraph.context import Context
from resolvers import calendar_writes
from resolvers.ids import parse_id
from resolvers.settings import main_connection
from scheduling import meeting_rules, validation
from scheduling.calendars import ProviderKind
from scheduling.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class CrmMeeting:
    contact_email: str
    title: str
    start: datetime
    end: datetime
    from_integration: bool = False


async def create_crm_meeting(ctx: Context, data: CrmMeeting) -> Meeting:
    """Log the meeting; with calendar sync on it becomes an invitation to the contact.

    Meetings from integrations are never synced, and Exchange connections get none (no two-way sync).
    """
    user = ctx.require_user()
    email = validation.email(data.contact_email, "contactEmail")
    title = validation.text(data.title, "title", max_length=300)
    start, end = meeting_rules.meeting_span(data.start, data.end)
    async with ctx.db() as session:
        settings = await session.get(CalendarSettings, user.id)
        connection = await main_connection(session, user.id)
        primary_id = await _primary_calendar(session, connection)
        syncs = meeting_rules.crm_meeting_syncs(
            from_integration=data.from_integration,
            calendar_sync=settings is not None and settings.calendar_sync,
            kind=ProviderKind(connection.provider) if connection is not None else None,
            has_primary_calendar=primary_id is not None,
        )
        meeting = Meeting(
            user_id=user.id,
            start=start,
            end=end,
            status=MeetingStatus.BOOKED,
            source=MeetingSource.INTEGRATION if data.from_integration else MeetingSource.CRM,
            title=title,
            contact_email=email,
            sync_state=SyncState.PENDING if syncs else SyncState.NOT_SYNCED,
            connection_id=connection.id if syncs and connection else None,
            provider_calendar_id=primary_id if syncs else None,
            created_at=ctx.now(),
        )
        session.add(meeting)
        write_job = None
        try:
            await session.flush()
            if syncs:
                write_job = await calendar_writes.enqueue_write(session, ctx.services, meeting)
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise InvalidInput("you already have a meeting starting at that time", field="start") from None
    await ctx.services.jobs.run_now(write_job)
    async with ctx.db() as session:
        # populate_existing: the session still holds the PENDING object it inserted, not the written state
        return await session.get(Meeting, meeting.id, populate_existing=True) or meeting


async def _primary_calendar(session: AsyncSession, connection: CalendarConnection | None) -> str | None:
    if connection is None:
        return None
    found = (
        await session.exec(
            select(Calendar.provider_calendar_id).where(
                Calendar.connection_id == connection.id, col(Calendar.is_primary).is_(True)
            )
        )
    ).first()
    return str(found) if found else None


async def cancel_meeting(ctx: Context, meeting_id: str) -> Meeting:
    """Cancel; the calendar event is then removed by a job (the provider tells the contact).

    Exchange calendars can't cancel (no two-way sync)."""
    user = ctx.require_user()
    key = parse_id(meeting_id, "meeting")
    async with ctx.db() as session:
        meeting = await session.get(Meeting, key)
        if meeting is None or meeting.user_id != user.id:
            raise NotFound("meeting not found")
        connection = await session.get(CalendarConnection, meeting.connection_id) if meeting.connection_id else None
        meeting_rules.check_cancellable(meeting.status, ProviderKind(connection.provider) if connection else None)
        meeting.status = MeetingStatus.CANCELLED
        session.add(meeting)
        delete_job = None
        if meeting.provider_calendar_id is not None and connection is not None:
            delete_job = await calendar_writes.enqueue_delete(session, ctx.services, meeting)
        await session.commit()
    await ctx.services.jobs.run_now(delete_job)
    return meeting
