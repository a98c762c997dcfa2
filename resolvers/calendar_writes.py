"""Writing to calendars, as durable jobs enqueued with the change that causes them.

Every write is idempotent, because a job runs at least once: events carry the meeting's (or task's) id as
their key, so a create that reached the provider before a crash or timeout is found again, not repeated;
deletes of an event that is gone succeed; the task calendar is found by name before one is created.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import begin_write
from db.models import (
    CalendarConnection,
    CalendarSettings,
    Job,
    JobState,
    Meeting,
    MeetingStatus,
    SchedulingPage,
    SyncState,
    Task,
    User,
)
from meetgraph import jobs
from meetgraph.failpoints import CALENDAR_WRITE_AFTER_PROVIDER, failpoint
from meetgraph.providers import provider_for
from meetgraph.services import Services
from providers.base import (
    Attendee,
    EventDraft,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
)
from resolvers import notify
from resolvers.settings import main_connection
from scheduling import meeting_rules, settings_rules

WRITE_MEETING = "calendar.write_meeting"
DELETE_MEETING = "calendar.delete_meeting"
UPDATE_MEETING = "calendar.update_meeting"
WRITE_TASK = "calendar.write_task"
CREATE_TASK_CALENDAR = "calendar.create_task_calendar"
MAX_ATTEMPTS = 5
WAIT_FOR_WRITE = 2.0
"""A delete or update waits this long for the meeting's create (still running or retrying) before it looks again."""
MAX_CATCH_UP = 3
"""How often one update job writes again because the meeting moved while it was writing."""


def draft_for(meeting: Meeting, timezone: str = "UTC") -> EventDraft:
    return EventDraft(
        summary=meeting.title or f"Meeting with {meeting.contact_name or meeting.contact_email}",
        start=meeting.start,
        end=meeting.end,
        attendees=[Attendee(meeting.contact_email, meeting.contact_name or None)],
        description="Booked with meetgraph.",
        timezone=timezone,
        key=str(meeting.id),
    )


def _job_error(exc: ProviderError) -> Exception:
    """A provider failure as the job sees it: refused for good, or worth another try (after Retry-After)."""
    if isinstance(exc, (ProviderRequestError, ProviderAuthError)):
        return jobs.Permanent(exc.message)
    delay = exc.retry_after if isinstance(exc, ProviderRateLimited) else None
    return jobs.Retry(exc.message, delay=delay)


async def _load(services: Services, model: Any, key: uuid.UUID) -> tuple[Any, CalendarConnection | None]:
    async with services.sessionmaker() as session:
        row = await session.get(model, key)
        connection_id = getattr(row, "connection_id", None) if row is not None else None
        if row is not None and model is Task:  # tasks go to the main connection's task calendar
            return row, await main_connection(session, row.user_id)
        connection = await session.get(CalendarConnection, connection_id) if connection_id else None
    return row, connection


async def _update(services: Services, model: Any, key: uuid.UUID, *conditions: Any, **values: Any) -> int:
    async with services.sessionmaker() as session:
        await begin_write(session)
        result = await session.execute(update(model).where(model.id == key, *conditions).values(**values))
        await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _enqueue(
    session: AsyncSession, services: Services, kind: str, field: str, row_id: uuid.UUID, **extra: str
) -> uuid.UUID | None:
    """One job of each kind per row (the key): enqueuing it again is a no-op."""
    payload = {field: str(row_id), **extra}
    return await jobs.enqueue(
        session, kind, payload, now=services.clock(), key=f"{kind}:{row_id}", max_attempts=MAX_ATTEMPTS
    )


async def _write_zone(session: AsyncSession, user_id: uuid.UUID, page_id: uuid.UUID | None = None) -> str:
    """The zone an event is written in: the booked page's, else (CRM meetings, tasks) the user's."""
    page = await session.get(SchedulingPage, page_id) if page_id is not None else None
    if page is not None:
        return page.timezone
    user = await session.get(User, user_id)
    return user.timezone if user is not None else "UTC"


def _payload_zone(payload: dict[str, Any]) -> str:
    """The payload's zone; jobs enqueued before zones were carried write in UTC."""
    return str(payload.get("timezone") or "UTC")


# -- meetings --------------------------------------------------------------------------------------------


async def enqueue_write(session: AsyncSession, services: Services, meeting: Meeting) -> uuid.UUID | None:
    zone = await _write_zone(session, meeting.user_id, meeting.page_id)
    return await _enqueue(session, services, WRITE_MEETING, "meeting_id", meeting.id, timezone=zone)


def _store(model: Any, key: uuid.UUID, *conditions: Any, **values: Any) -> jobs.Finish:
    """A handler's result, stored by the queue in the transaction that marks its job DONE."""

    async def finish(session: AsyncSession) -> None:
        await session.execute(update(model).where(model.id == key, *conditions).values(**values))

    return finish


async def write_meeting(services: Services, payload: dict[str, Any]) -> jobs.Finish | None:
    meeting_id = uuid.UUID(payload["meeting_id"])
    meeting, connection = await _load(services, Meeting, meeting_id)
    if meeting is None or meeting.sync_state is not SyncState.PENDING:
        return None
    if meeting.status is MeetingStatus.CANCELLED:  # cancelled before it was written: nothing to write
        pending = col(Meeting.sync_state) == SyncState.PENDING
        return _store(Meeting, meeting_id, pending, sync_state=SyncState.NOT_SYNCED)
    if connection is None or meeting.provider_calendar_id is None:
        raise jobs.Permanent("the calendar was disconnected")
    try:
        async with provider_for(connection, services) as provider:
            event_id = await provider.create_event(
                meeting.provider_calendar_id, draft_for(meeting, _payload_zone(payload))
            )
    except ProviderError as exc:
        await _update(
            services, Meeting, meeting_id, sync_attempts=col(Meeting.sync_attempts) + 1, sync_error=exc.message[:500]
        )
        raise _job_error(exc) from exc
    failpoint(CALENDAR_WRITE_AFTER_PROVIDER)
    # stored whatever happened meanwhile: a cancel that came first waits for this id to delete the event
    return _store(Meeting, meeting_id, sync_state=SyncState.SYNCED, provider_event_id=event_id, sync_error=None)


async def write_failed(session: AsyncSession, services: Services, payload: dict[str, Any], error: str) -> None:
    """The write's retry budget is spent or it was refused: the meeting stays booked, the owner is told."""
    meeting = await session.get(Meeting, uuid.UUID(payload["meeting_id"]))
    if meeting is None or meeting.sync_state is not SyncState.PENDING:
        return
    meeting.sync_state = SyncState.FAILED
    meeting.sync_error = error[:500]
    session.add(meeting)
    await notify.sync_failed(session, services, meeting.user_id, meeting.start, meeting.contact_email, error)


async def enqueue_delete(session: AsyncSession, services: Services, meeting: Meeting) -> uuid.UUID | None:
    return await _enqueue(session, services, DELETE_MEETING, "meeting_id", meeting.id)


async def _write_unfinished(services: Services, meeting_id: uuid.UUID) -> bool:
    async with services.sessionmaker() as session:
        state = (await session.exec(select(Job.state).where(Job.key == f"{WRITE_MEETING}:{meeting_id}"))).first()
    return state in (JobState.PENDING, JobState.RUNNING)


async def delete_meeting(services: Services, payload: dict[str, Any]) -> None:
    """Remove a cancelled meeting's event (the provider tells the contact); waits for a create in flight."""
    meeting_id = uuid.UUID(payload["meeting_id"])
    meeting, connection = await _load(services, Meeting, meeting_id)
    if meeting is None or connection is None or meeting.provider_calendar_id is None:
        return
    if meeting.provider_event_id is None:
        if await _write_unfinished(services, meeting_id):
            raise jobs.Retry("the meeting is still being written to the calendar", delay=WAIT_FOR_WRITE)
        return
    try:
        async with provider_for(connection, services) as provider:
            await provider.delete_event(meeting.provider_calendar_id, meeting.provider_event_id)
    except ProviderError as exc:
        raise _job_error(exc) from exc


async def enqueue_update(session: AsyncSession, services: Services, meeting: Meeting) -> uuid.UUID | None:
    """The job that moves the meeting's event to the meeting's new time, keyed by meeting and target start.

    A move back to a time the meeting held before finds that key used; it gets a job of its own (unkeyed)
    so the event follows it too."""
    zone = await _write_zone(session, meeting.user_id, meeting.page_id)
    target = meeting.start.astimezone(UTC).isoformat()
    payload = {"meeting_id": str(meeting.id), "start": target, "timezone": zone}
    now = services.clock()
    job = await jobs.enqueue(
        session,
        UPDATE_MEETING,
        payload,
        now=now,
        key=f"{UPDATE_MEETING}:{meeting.id}:{target}",
        max_attempts=MAX_ATTEMPTS,
    )
    if job is None:
        job = await jobs.enqueue(session, UPDATE_MEETING, payload, now=now, max_attempts=MAX_ATTEMPTS)
    return job


def _target(payload: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(payload["start"]))


async def update_meeting(services: Services, payload: dict[str, Any]) -> jobs.Finish | None:
    """Move a rescheduled meeting's event in place (same event id; the provider tells the attendees).

    Only the time is written: the event's title, text and attendees stay what they are in the calendar, which
    for a meeting synced in from it (source CALENDAR) are the owner's own, beyond the one contact meetgraph holds.

    A job whose target is no longer the meeting's start is superseded: the move that changed it enqueued the
    job that writes it. The meeting may move again while this job writes: it then writes the newer time too,
    so that whichever update reaches the provider last carries the meeting's time.
    """
    meeting_id = uuid.UUID(payload["meeting_id"])
    written: datetime | None = None
    for _ in range(MAX_CATCH_UP):
        meeting, connection = await _load(services, Meeting, meeting_id)
        if meeting is None or meeting.status is MeetingStatus.CANCELLED:
            return None  # a cancel's delete job removes the event
        if written is None and meeting.start != _target(payload):
            return None
        if written is not None and meeting.start == written:
            break
        if connection is None or meeting.provider_calendar_id is None:
            return None  # not in a calendar (offline request, sync off, disconnected): only the meeting moves
        if meeting.provider_event_id is None:
            if await _write_unfinished(services, meeting_id):
                raise jobs.Retry("the meeting is still being written to the calendar", delay=WAIT_FOR_WRITE)
            return None  # the create failed for good: there is no event to move
        try:
            async with provider_for(connection, services) as provider:
                await provider.move_event(
                    meeting.provider_calendar_id,
                    meeting.provider_event_id,
                    meeting.start,
                    meeting.end,
                    _payload_zone(payload),
                )
        except ProviderError as exc:
            await _update(services, Meeting, meeting_id, sync_error=exc.message[:500])
            raise _job_error(exc) from exc
        written = meeting.start
    else:
        raise jobs.Retry("the meeting kept moving while its event was updated")
    unmoved = col(Meeting.start) == written
    return _store(Meeting, meeting_id, unmoved, sync_state=SyncState.SYNCED, sync_error=None)


async def update_failed(session: AsyncSession, services: Services, payload: dict[str, Any], error: str) -> None:
    """The event could not be moved: the meeting keeps its new time, marked FAILED, and the owner is told."""
    meeting = await session.get(Meeting, uuid.UUID(payload["meeting_id"]))
    if meeting is None or meeting.status is MeetingStatus.CANCELLED or meeting.start != _target(payload):
        return
    meeting.sync_state = SyncState.FAILED
    meeting.sync_error = error[:500]
    session.add(meeting)
    await notify.sync_failed(session, services, meeting.user_id, meeting.start, meeting.contact_email, error)


# -- tasks -----------------------------------------------------------------------------------------------


async def enqueue_task_write(session: AsyncSession, services: Services, task: Task) -> uuid.UUID | None:
    zone = await _write_zone(session, task.user_id)
    return await _enqueue(session, services, WRITE_TASK, "task_id", task.id, timezone=zone)


async def write_task(services: Services, payload: dict[str, Any]) -> jobs.Finish | None:
    task_id = uuid.UUID(payload["task_id"])
    task, connection = await _load(services, Task, task_id)
    if task is None or task.sync_state is not SyncState.PENDING:
        return None
    if connection is None:
        raise jobs.Permanent("the calendar was disconnected")
    if connection.task_calendar_id is None:
        raise jobs.Retry("the task calendar is not created yet")
    draft = EventDraft(
        summary=f"Task: {task.title}",
        start=task.due,
        end=task.due + meeting_rules.TASK_EVENT_LENGTH,
        description="CRM task",
        timezone=_payload_zone(payload),
        key=str(task.id),
    )
    try:
        async with provider_for(connection, services) as provider:
            event_id = await provider.create_event(connection.task_calendar_id, draft)
    except ProviderError as exc:
        raise _job_error(exc) from exc
    return _store(Task, task_id, sync_state=SyncState.SYNCED, provider_event_id=event_id)


async def task_write_failed(session: AsyncSession, services: Services, payload: dict[str, Any], error: str) -> None:
    task = await session.get(Task, uuid.UUID(payload["task_id"]))
    if task is not None and task.sync_state is SyncState.PENDING:
        task.sync_state = SyncState.FAILED
        session.add(task)


async def enqueue_task_calendar(
    session: AsyncSession, services: Services, connection: CalendarConnection
) -> uuid.UUID | None:
    return await _enqueue(session, services, CREATE_TASK_CALENDAR, "connection_id", connection.id)


async def create_task_calendar(services: Services, payload: dict[str, Any]) -> jobs.Finish | None:
    """The tasks sub-calendar, created once when task sync is first turned on (found again if it exists)."""
    connection_id = uuid.UUID(payload["connection_id"])
    async with services.sessionmaker() as session:
        connection = await session.get(CalendarConnection, connection_id)
        settings = await session.get(CalendarSettings, connection.user_id) if connection else None
    if connection is None or connection.task_calendar_id is not None or settings is None or not settings.task_sync:
        return None
    try:
        async with provider_for(connection, services) as provider:
            created = await provider.create_calendar(settings_rules.TASK_CALENDAR_NAME)
    except ProviderError as exc:
        raise _job_error(exc) from exc
    unset = col(CalendarConnection.task_calendar_id).is_(None)
    return _store(CalendarConnection, connection_id, unset, task_calendar_id=created.id)


KINDS = {
    WRITE_MEETING: jobs.JobKind(WRITE_MEETING, write_meeting, on_failed=write_failed),
    DELETE_MEETING: jobs.JobKind(DELETE_MEETING, delete_meeting),
    UPDATE_MEETING: jobs.JobKind(UPDATE_MEETING, update_meeting, on_failed=update_failed),
    WRITE_TASK: jobs.JobKind(WRITE_TASK, write_task, on_failed=task_write_failed),
    CREATE_TASK_CALENDAR: jobs.JobKind(CREATE_TASK_CALENDAR, create_task_calendar),
}
