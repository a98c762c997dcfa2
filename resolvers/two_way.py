"""Two-way sync applied: the sync engine hands over each batch of a calendar's changes, in the transaction that
writes the event store, and the owner's meetings follow (the rules are scheduling.two_way's).

Nothing is committed here and no provider is called: the calendar already holds what these changes describe, so
imported meetings are SYNCED, moves and cancellations enqueue no calendar write.

A move onto the start of another live meeting of the user (the live-slot index allows one per start) is not
applied: the meeting keeps its time, its sync_error says where the calendar moved it, and the sync goes on. The
note is cleared by the next move that lands. An import onto such a start is skipped the same way (logged), and
taken up again when the event next changes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import (
    Calendar,
    CalendarConnection,
    CalendarSettings,
    ConnectionStatus,
    Meeting,
    MeetingSource,
    SyncState,
    User,
)
from meetgraph.services import Services
from providers.base import SyncedEvent
from scheduling import two_way
from scheduling.booking_rules import LIVE_STATUSES
from scheduling.two_way import Change, EventFacts, Invitee, MeetingFacts, Outcome

log = logging.getLogger("meetgraph.two_way")

CHUNK = 500
"""Ids per IN (...) list: a full sync's batch may name thousands of events."""


def facts_of(event: SyncedEvent) -> EventFacts:
    return EventFacts(
        id=event.id,
        start=event.start.astimezone(UTC),
        end=event.end.astimezone(UTC),
        summary=event.summary,
        organized_by_account=event.organized_by_account,
        attendees=tuple(Invitee(a.email, a.name) for a in event.attendees),
        key=event.key,
        from_integration=event.from_integration,
    )


def meeting_facts(meeting: Meeting) -> MeetingFacts:
    return MeetingFacts(
        id=meeting.id,
        start=meeting.start,
        end=meeting.end,
        status=meeting.status,
        imported=meeting.source is MeetingSource.CALENDAR,
        provider_event_id=meeting.provider_event_id,
        title=meeting.title,
        contact_email=meeting.contact_email,
        contact_name=meeting.contact_name,
        write_pending=meeting.sync_state is SyncState.PENDING,
    )


async def two_way_applies(session: AsyncSession, calendar: Calendar, connection: CalendarConnection) -> bool:
    settings = await session.get(CalendarSettings, connection.user_id)
    return two_way.applies(
        calendar_sync=settings is not None and settings.calendar_sync,
        is_primary=calendar.is_primary and calendar.connection_id == connection.id,
        kind=connection.provider,
        connection_active=connection.status is ConnectionStatus.ACTIVE and calendar.status is ConnectionStatus.ACTIVE,
    )


def _chunks(values: Sequence[object]) -> Iterable[list[object]]:
    for at in range(0, len(values), CHUNK):
        yield list(values[at : at + CHUNK])


async def _candidates(
    session: AsyncSession, user_id: uuid.UUID, event_ids: Sequence[str], keys: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Meeting]:
    """The user's meetings with one of the provider ids, or whose id is one of the keys."""
    found: dict[uuid.UUID, Meeting] = {}
    for ids in _chunks(sorted(set(event_ids))):
        rows = await session.exec(
            select(Meeting).where(Meeting.user_id == user_id, col(Meeting.provider_event_id).in_(ids))
        )
        found.update((m.id, m) for m in rows.all())
    for chunk in _chunks(sorted(set(keys))):
        rows = await session.exec(select(Meeting).where(Meeting.user_id == user_id, col(Meeting.id).in_(chunk)))
        found.update((m.id, m) for m in rows.all())
    return found


async def _live_starts(
    session: AsyncSession, user_id: uuid.UUID, starts: Sequence[datetime]
) -> dict[datetime, uuid.UUID]:
    """The user's live meetings starting at any of these instants (uq_meeting_live_slot allows one per start)."""
    taken: dict[datetime, uuid.UUID] = {}
    for chunk in _chunks(sorted(set(starts))):
        rows = await session.exec(
            select(Meeting.start, Meeting.id).where(
                Meeting.user_id == user_id, col(Meeting.status).in_(LIVE_STATUSES), col(Meeting.start).in_(chunk)
            )
        )
        taken.update((start, meeting_id) for start, meeting_id in rows.all())
    return taken


class _Batch:
    """One batch's meetings, kept current as outcomes are written so later events of the batch see them."""

    def __init__(
        self,
        session: AsyncSession,
        calendar: Calendar,
        connection: CalendarConnection,
        owners: frozenset[str],
        meetings: dict[uuid.UUID, Meeting],
        taken: dict[datetime, uuid.UUID],
        now: datetime,
    ) -> None:
        self.session = session
        self.calendar = calendar
        self.connection = connection
        self.owners = owners
        self.meetings = meetings
        self.taken = taken
        """Live meetings by start, among the batch's starts: kept current as the batch writes."""
        self.now = now
        self.changed = False
        self.by_event: dict[str, list[Meeting]] = {}
        """The user's meetings by provider event id (any connection: what meetgraph wrote is never imported)."""
        for meeting in meetings.values():
            self._index(meeting)

    def slot_taken(self, start: datetime, meeting_id: uuid.UUID | None) -> bool:
        """Another live meeting starts then (the index would refuse; checked first for a friendly outcome)."""
        holder = self.taken.get(start)
        return holder is not None and holder != meeting_id

    def _hold(self, meeting: Meeting, before: tuple[datetime, bool] | None) -> None:
        """Keep `taken` current after a write: `before` is the meeting's (start, live) before it."""
        if before is not None and before[1] and self.taken.get(before[0]) == meeting.id:
            del self.taken[before[0]]
        if meeting.status in LIVE_STATUSES:
            self.taken[meeting.start] = meeting.id

    def _index(self, meeting: Meeting) -> None:
        if meeting.provider_event_id is not None:
            self.by_event.setdefault(meeting.provider_event_id, []).append(meeting)

    def _ours(self, meetings: Iterable[Meeting | None]) -> list[Meeting]:
        found = {m.id: m for m in meetings if m is not None and m.connection_id == self.connection.id}
        return list(found.values())

    def linked(self, event: EventFacts) -> Meeting | None:
        key = two_way.key_of(event.key)
        ours = self._ours([self.meetings.get(key) if key else None, *self.by_event.get(event.id, ())])
        found = two_way.linked(event, [meeting_facts(m) for m in ours])
        return next((m for m in ours if found is not None and m.id == found.id), None)

    def by_event_id(self, event_id: str) -> Meeting | None:
        ours = [m for m in self._ours(self.by_event.get(event_id, ())) if m.provider_event_id == event_id]
        live = [m for m in ours if m.status in LIVE_STATUSES]
        return next(iter(live or ours), None)

    async def on_changed(self, event: EventFacts) -> None:
        meeting = self.linked(event)
        outcome = two_way.on_changed(
            event,
            meeting_facts(meeting) if meeting else None,
            self.owners,
            known_event_ids=self.by_event.keys(),
            now=self.now,
        )
        if outcome is not None:
            await self.write(outcome, meeting)
        elif meeting is not None and two_way.is_move_refusal(meeting.sync_error) and meeting.start == event.start:
            await self._save(meeting, {"sync_error": None})  # the event was moved back: nothing left to explain

    async def on_removed(self, event_id: str) -> None:
        meeting = self.by_event_id(event_id)
        outcome = two_way.on_removed(event_id, meeting_facts(meeting) if meeting else None, now=self.now)
        if outcome is not None:
            await self.write(outcome, meeting)

    async def write(self, outcome: Outcome, meeting: Meeting | None) -> None:
        if meeting is None:
            await self._import(outcome)
        elif outcome.moves and self.slot_taken(outcome.start, meeting.id):
            await self._refuse_move(outcome, meeting)
        else:
            await self._update(outcome, meeting)

    async def _save(self, meeting: Meeting, values: dict[str, object]) -> bool:
        """Write the meeting in a savepoint: False (and the meeting as stored) when a unique index refused it.

        The values are set inside the savepoint: begin_nested flushes what is pending first, outside it."""
        try:
            async with self.session.begin_nested():
                for name, value in values.items():
                    setattr(meeting, name, value)
                self.session.add(meeting)
                await self.session.flush()
        except IntegrityError:
            if inspect(meeting).persistent:
                await self.session.refresh(meeting)
            return False
        return True

    async def _import(self, outcome: Outcome) -> None:
        user_id = self.connection.user_id
        if self.slot_taken(outcome.start, None):
            log.info(
                "two-way sync: event %s of calendar %s not imported: another meeting starts then",
                outcome.provider_event_id,
                self.calendar.id,
            )
            return
        meeting = Meeting(
            user_id=user_id,
            connection_id=self.connection.id,
            provider_calendar_id=self.calendar.provider_calendar_id,
            provider_event_id=outcome.provider_event_id,
            start=outcome.start,
            end=outcome.end,
            status=outcome.status,
            source=MeetingSource.CALENDAR,
            title=outcome.title,
            contact_email=outcome.contact_email,
            contact_name=outcome.contact_name,
            sync_state=SyncState.SYNCED,
            created_at=self.now,
        )
        if not await self._save(meeting, {}):
            # a concurrent sync imported it first, or a meeting took the start meanwhile: its next change decides
            log.info(
                "two-way sync: event %s of calendar %s imported elsewhere", outcome.provider_event_id, self.calendar.id
            )
            return
        self.meetings[meeting.id] = meeting
        self._index(meeting)
        self._hold(meeting, None)
        self.changed = True
        log.info(
            "two-way sync: imported event %s of calendar %s as meeting %s",
            outcome.provider_event_id,
            self.calendar.id,
            meeting.id,
        )

    @staticmethod
    def _link(meeting: Meeting, event_id: str) -> dict[str, object]:
        """Store the event's id. The event is in the calendar: a write still pending (or given up) has nothing
        left to do."""
        if meeting.provider_event_id == event_id:
            return {}
        values: dict[str, object] = {"provider_event_id": event_id}
        if meeting.sync_state in (SyncState.PENDING, SyncState.FAILED):
            values.update(sync_state=SyncState.SYNCED, sync_error=None)
        return values

    async def _refuse_move(self, outcome: Outcome, meeting: Meeting) -> None:
        note = two_way.move_refused(outcome.start)
        if meeting.sync_error == note and meeting.provider_event_id == outcome.provider_event_id:
            return
        await self._save(meeting, {**self._link(meeting, outcome.provider_event_id), "sync_error": note})
        log.warning(
            "two-way sync: meeting %s kept at its time: event %s of calendar %s moved onto another meeting's start",
            meeting.id,
            outcome.provider_event_id,
            self.calendar.id,
        )

    async def _update(self, outcome: Outcome, meeting: Meeting) -> None:
        values = {
            **self._link(meeting, outcome.provider_event_id),
            "start": outcome.start,
            "end": outcome.end,
            "status": outcome.status,
            "title": outcome.title,
            "contact_email": outcome.contact_email,
            "contact_name": outcome.contact_name,
        }
        if outcome.moves and two_way.is_move_refusal(meeting.sync_error):
            values["sync_error"] = None
        before = (meeting.start, meeting.status in LIVE_STATUSES)
        if not await self._save(meeting, values):
            # another live meeting took the start between the check and the write
            await self._refuse_move(outcome, meeting)
            return
        self._index(meeting)
        self._hold(meeting, before)
        if outcome.change in (Change.MOVED, Change.CANCELLED):
            self.changed = True
        log.info(
            "two-way sync: %s meeting %s (event %s of calendar %s)",
            outcome.change.value,
            meeting.id,
            outcome.provider_event_id,
            self.calendar.id,
        )


async def apply_calendar_changes(
    session: AsyncSession,
    services: Services,
    calendar: Calendar,
    connection: CalendarConnection,
    changed: Sequence[SyncedEvent],
    removed: Sequence[str],
    *,
    now: datetime,
) -> bool:
    """Bring the owner's meetings in line with a batch of the calendar's changes; True when any meeting was
    created, moved or cancelled (the owner's availability changed). Writes in the caller's transaction."""
    if (not changed and not removed) or not await two_way_applies(session, calendar, connection):
        return False
    user = await session.get(User, connection.user_id)
    owners = two_way.owner_addresses(connection.email, user.email if user is not None else None)
    latest = {event.id: facts_of(event) for event in changed}  # an event listed twice: its last state counts
    keys = [k for k in (two_way.key_of(e.key) for e in latest.values()) if k is not None]
    meetings = await _candidates(session, connection.user_id, [*latest, *removed], keys)
    taken = await _live_starts(session, connection.user_id, [e.start for e in latest.values()])
    batch = _Batch(session, calendar, connection, owners, meetings, taken, now)
    for event in latest.values():
        await batch.on_changed(event)
    for event_id in removed:
        if event_id not in latest:
            await batch.on_removed(event_id)
    return batch.changed
