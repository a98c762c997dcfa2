"""Writing meetings into calendars: tried at once, retried with backoff, marked FAILED and mailed if it never works."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import update
from sqlmodel import col, select

from db.models import CalendarConnection, Meeting, SyncState
from meetgraph.providers import provider_for
from meetgraph.services import Services
from providers.base import Attendee, EventDraft, ProviderAuthError, ProviderError, ProviderRequestError
from resolvers import notify

log = logging.getLogger("meetgraph.sync")

MAX_ATTEMPTS = 5


def draft_for(meeting: Meeting) -> EventDraft:
    return EventDraft(
        summary=meeting.title or f"Meeting with {meeting.contact_name or meeting.contact_email}",
        start=meeting.start,
        end=meeting.end,
        attendees=[Attendee(meeting.contact_email, meeting.contact_name or None)],
        description="Booked with meetgraph.",
    )


async def write_once(services: Services, meeting_id: uuid.UUID) -> bool:
    """One attempt to write a PENDING meeting; True when it is in the calendar (or nothing is left to do).

    No transaction is held while the provider is called.
    """
    async with services.sessionmaker() as session:
        meeting = await session.get(Meeting, meeting_id)
        connection = (
            await session.get(CalendarConnection, meeting.connection_id) if meeting and meeting.connection_id else None
        )
    if meeting is None or meeting.sync_state is not SyncState.PENDING:
        return True
    if connection is None or meeting.provider_calendar_id is None:
        await _store(services, meeting_id, state=SyncState.FAILED, error="the calendar was disconnected")
        return True
    try:
        async with provider_for(connection, services) as provider:
            event_id = await provider.create_event(meeting.provider_calendar_id, draft_for(meeting))
    except ProviderError as exc:
        attempts = meeting.sync_attempts + 1
        permanent = isinstance(exc, (ProviderRequestError, ProviderAuthError))
        failed = permanent or attempts >= MAX_ATTEMPTS
        await _store(
            services,
            meeting_id,
            state=SyncState.FAILED if failed else SyncState.PENDING,
            error=exc.message[:500],
            attempts=attempts,
        )
        log.warning("writing meeting %s failed (attempt %s): %s", meeting_id, attempts, exc.message)
        if failed:
            notify.sync_failed(services, meeting.user_id, meeting.start, meeting.contact_email, exc.message)
        return failed
    await _store(services, meeting_id, state=SyncState.SYNCED, event_id=event_id)
    return True


async def _store(
    services: Services,
    meeting_id: uuid.UUID,
    *,
    state: SyncState,
    error: str | None = None,
    attempts: int | None = None,
    event_id: str | None = None,
) -> None:
    values: dict[str, object] = {"sync_state": state, "sync_error": error}
    if attempts is not None:
        values["sync_attempts"] = attempts
    if event_id is not None:
        values["provider_event_id"] = event_id
    async with services.sessionmaker() as session:
        await session.exec(  # type: ignore[call-overload]
            update(Meeting)
            .where(col(Meeting.id) == meeting_id, col(Meeting.sync_state) == SyncState.PENDING)
            .values(**values)
        )
        await session.commit()


def retry_later(services: Services, meeting_id: uuid.UUID) -> None:
    """Keep trying in the background with the retry policy's backoff until written or FAILED."""

    async def run() -> None:
        attempt = 1
        while not await write_once(services, meeting_id):
            attempt += 1
            await services.retry.sleep(services.retry.backoff(attempt))

    services.spawn(run(), f"sync-meeting-{meeting_id}")


async def resume_pending(services: Services) -> None:
    """At startup: meetings left PENDING by a crash or restart are retried."""
    async with services.sessionmaker() as session:
        pending = (await session.exec(select(Meeting.id).where(col(Meeting.sync_state) == SyncState.PENDING))).all()
    for meeting_id in pending:
        retry_later(services, meeting_id)
