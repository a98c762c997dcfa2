"""Writing meetings into calendars: tried at once, retried with backoff, marked FAILED and mailed if it never works."""

from __future__ import annotations

import logging
import uuid

from sqlmodel import col, select

from db.models import CalendarConnection, Meeting, SyncState
from meetgraph.services import Services
from providers.base import Attendee, EventDraft, ProviderError, ProviderRequestError, ProviderAuthError
from providers.factory import provider_for
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
    """One attempt to write a PENDING meeting; True when it is in the calendar (or nothing is left to do)."""
    async with services.sessionmaker() as session:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None or meeting.sync_state is not SyncState.PENDING:
            return True
        connection = await session.get(CalendarConnection, meeting.connection_id) if meeting.connection_id else None
        if connection is None or meeting.provider_calendar_id is None:
            meeting.sync_state, meeting.sync_error = SyncState.FAILED, "the calendar was disconnected"
            session.add(meeting)
            await session.commit()
            return True
        try:
            async with provider_for(connection, services) as provider:
                event_id = await provider.create_event(meeting.provider_calendar_id, draft_for(meeting))
        except ProviderError as exc:
            meeting.sync_attempts += 1
            meeting.sync_error = exc.message[:500]
            permanent = isinstance(exc, (ProviderRequestError, ProviderAuthError))
            if permanent or meeting.sync_attempts >= MAX_ATTEMPTS:
                meeting.sync_state = SyncState.FAILED
                notify.sync_failed(services, meeting.user_id, meeting.start, meeting.contact_email, exc.message)
            session.add(meeting)
            await session.commit()
            log.warning("writing meeting %s failed (attempt %s): %s", meeting.id, meeting.sync_attempts, exc.message)
            return meeting.sync_state is SyncState.FAILED
        meeting.provider_event_id = event_id
        meeting.sync_state = SyncState.SYNCED
        meeting.sync_error = None
        session.add(meeting)
        await session.commit()
        return True


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
