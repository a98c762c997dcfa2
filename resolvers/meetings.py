"""The owner's meetings page by page, meetings logged on CRM records, and cancelling meetings."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from graphql import GraphQLError
from sqlalchemy import and_, func, or_
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
from meetgraph.availability_events import availability_changed
from meetgraph.context import Context
from resolvers import calendar_writes
from resolvers.ids import owned
from resolvers.settings import main_connection
from scheduling import meeting_rules, validation
from scheduling.calendars import ProviderKind
from scheduling.errors import InvalidInput


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
    await availability_changed(ctx.services, user.id)
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
    async with ctx.db() as session:
        meeting = await owned(session, Meeting, meeting_id, "meeting", user_id=user.id)
        connection = await session.get(CalendarConnection, meeting.connection_id) if meeting.connection_id else None
        meeting_rules.check_cancellable(meeting.status, ProviderKind(connection.provider) if connection else None)
        meeting.status = MeetingStatus.CANCELLED
        session.add(meeting)
        delete_job = None
        if meeting.provider_calendar_id is not None and connection is not None:
            delete_job = await calendar_writes.enqueue_delete(session, ctx.services, meeting)
        await session.commit()
    await availability_changed(ctx.services, user.id)
    await ctx.services.jobs.run_now(delete_job)
    return meeting


class BadPageArgument(GraphQLError):
    """`first` outside 1..MAX_PAGE or a cursor this server did not make: the client's mistake."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


MAX_PAGE = 100
"""The most meetings one page of meetingsConnection holds."""
DEFAULT_PAGE = 20

LIST_MAX = 500
"""The most meetings the deprecated `User.meetings` list answers: the latest by start (meetingsConnection pages through all)."""


@dataclass(frozen=True)
class MeetingPage:
    meetings: list[Meeting]
    has_next_page: bool
    total_count: int


def encode_cursor(meeting: Meeting) -> str:
    """An opaque cursor: the meeting's place in the (start, id) order, so inserts never shift a page."""
    raw = f"{meeting.start.astimezone(UTC).isoformat()}|{meeting.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        start, _, key = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().partition("|")
        moment = datetime.fromisoformat(start)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, uuid.UUID(key)
    except ValueError:  # binascii.Error and UnicodeError are ValueErrors
        raise BadPageArgument("after is not a cursor of meetingsConnection") from None


async def page_of_meetings(
    ctx: Context, user_id: uuid.UUID, *, first: int, after: str | None, status: MeetingStatus | None
) -> MeetingPage:
    """The user's meetings by start, newest first (ties by id), the `first` after the cursor `after`."""
    if not 1 <= first <= MAX_PAGE:
        raise BadPageArgument(f"first must be between 1 and {MAX_PAGE}")
    position = decode_cursor(after) if after is not None else None
    mine = [col(Meeting.user_id) == user_id]
    if status is not None:
        mine.append(col(Meeting.status) == status)
    query = select(Meeting).where(*mine)
    if position is not None:
        start, key = position
        query = query.where(or_(col(Meeting.start) < start, and_(col(Meeting.start) == start, col(Meeting.id) < key)))
    async with ctx.db() as session:
        rows = list(
            (
                await session.exec(query.order_by(col(Meeting.start).desc(), col(Meeting.id).desc()).limit(first + 1))
            ).all()
        )
        total = (await session.exec(select(func.count()).select_from(Meeting).where(*mine))).one()
    return MeetingPage(meetings=rows[:first], has_next_page=len(rows) > first, total_count=total)


async def latest_meetings(ctx: Context, user_id: uuid.UUID) -> list[Meeting]:
    """The deprecated `User.meetings`: at most LIST_MAX meetings, the latest by start, in start order."""
    async with ctx.db() as session:
        rows = await session.exec(
            select(Meeting)
            .where(Meeting.user_id == user_id)
            .order_by(col(Meeting.start).desc(), col(Meeting.id).desc())
            .limit(LIST_MAX)
        )
        return list(reversed(rows.all()))
