"""Two-way sync: what a calendar change does to the owner's meetings (issue 12 "Two-way sync"; SPEC "Calendar sync",
"Exchange limitations"). Pure rules: resolvers.two_way loads the facts, calls these and writes the result.

- Only while the owner's calendar sync is on, for the connection's primary calendar, on an active connection whose
  provider has two-way sync (Google, Office 365; never Exchange).
- **Import**: an event the connected account organises, with at least one attendee other than the owner, that
  meetgraph did not write, no integration created, not all-day and not over yet, becomes a BOOKED meeting (source
  CALENDAR) with the first other attendee as its contact. Seen again, it refreshes that meeting (time, title,
  contact); once it stops qualifying (no other attendee, not organised by the account, all-day) it is cancelled.
- **Moved**: a live meeting linked to the event (by its provider event id, or by the key meetgraph wrote the event
  with: the meeting's id) takes the event's start and end.
- **Removed**: the linked live meeting is cancelled, with nothing written back (the event is already gone).
- Cancelled meetings stay cancelled: cancelling is final in meetgraph (a pending delete job may not have removed
  the event yet, so an event still seen must not revive it), and meetings already over are history that a calendar
  clean-up does not rewrite.
- Deciding again after applying a decision decides nothing (a batch applied twice writes once).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.booking_rules import LIVE_STATUSES, MeetingStatus
from scheduling.calendars import ProviderKind, capabilities_of
from scheduling.validation import EMAIL

TITLE_LENGTH = 300
"""Meeting.title's column."""
CONTACT_EMAIL_LENGTH = 254
CONTACT_NAME_LENGTH = 200
ALL_DAY = timedelta(hours=23)
"""An event this long or longer is taken as all-day: providers report all-day events as midnight to midnight in the
calendar's zone (23 or 25 hours across a daylight-saving change), and no meeting lasts a day (meeting_rules)."""
IMPORTED_STATUS = MeetingStatus.BOOKED
"""An imported meeting is in the calendar already: it holds its time like a booked one."""


@dataclass(frozen=True)
class Invitee:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class EventFacts:
    """What the rules read of a synced event (providers.base.SyncedEvent without the provider's vocabulary)."""

    id: str
    start: datetime
    end: datetime
    summary: str = ""
    organized_by_account: bool = False
    attendees: tuple[Invitee, ...] = ()
    key: str | None = None
    """The idempotency key meetgraph wrote the event with (a meeting's or task's id); None for foreign events."""
    from_integration: bool = False


@dataclass(frozen=True)
class MeetingFacts:
    """What the rules read of a meeting linked to an event."""

    id: uuid.UUID
    start: datetime
    end: datetime
    status: MeetingStatus
    imported: bool
    """source CALENDAR: created by two-way sync, so the event's title and contact are its own."""
    provider_event_id: str | None
    title: str = ""
    contact_email: str = ""
    contact_name: str = ""
    write_pending: bool = False
    """meetgraph's own write of the meeting to its event (sync_state PENDING) has not finished."""


class Change(str, enum.Enum):
    IMPORTED = "imported"
    MOVED = "moved"
    REFRESHED = "refreshed"
    """An imported meeting took the event's new title or contact (its time unchanged)."""
    LINKED = "linked"
    """The event arrived before meetgraph's create call answered: its id is stored with the meeting."""
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Outcome:
    """A decision: the meeting's fields after the change (for IMPORTED, the new meeting's; `meeting_id` None)."""

    change: Change
    meeting_id: uuid.UUID | None
    provider_event_id: str
    start: datetime
    end: datetime
    status: MeetingStatus
    title: str
    contact_email: str
    contact_name: str

    @property
    def moves(self) -> bool:
        """The meeting takes a new start or end (the live-slot index may refuse it)."""
        return self.change is Change.MOVED


def applies(*, calendar_sync: bool, is_primary: bool, kind: ProviderKind | str, connection_active: bool) -> bool:
    """Whether changes of this calendar touch meetings at all."""
    return calendar_sync and is_primary and connection_active and capabilities_of(kind).two_way_sync


def owner_addresses(*addresses: str | None) -> frozenset[str]:
    """The owner's addresses (the connection's and the user's), compared case-insensitively."""
    return frozenset(a.strip().lower() for a in addresses if a and a.strip())


def others(attendees: Iterable[Invitee], owners: frozenset[str]) -> list[Invitee]:
    """Attendees who could be the meeting's contact: a well-formed address that is not the owner's, lower case."""
    found: list[Invitee] = []
    for attendee in attendees:
        address = attendee.email.strip().lower()
        if address in owners or len(address) > CONTACT_EMAIL_LENGTH or not EMAIL.match(address):
            continue
        found.append(Invitee(address, attendee.name))
    return found


def is_all_day(start: datetime, end: datetime) -> bool:
    return end - start >= ALL_DAY


def written_by_meetgraph(event: EventFacts, known_event_ids: AbstractSet[str]) -> bool:
    """Carries meetgraph's key, or its id is a meeting's provider event id (the key may not survive every edit)."""
    return event.key is not None or event.id in known_event_ids


def qualifies(event: EventFacts, owners: frozenset[str]) -> bool:
    """Whether the event is a meeting with a contact, whenever it takes place (the import rule minus time)."""
    return (
        event.organized_by_account
        and not event.from_integration
        and not is_all_day(event.start, event.end)
        and bool(others(event.attendees, owners))
    )


def importable(event: EventFacts, owners: frozenset[str], *, known_event_ids: AbstractSet[str], now: datetime) -> bool:
    return not written_by_meetgraph(event, known_event_ids) and qualifies(event, owners) and event.end > now


def _imported_fields(event: EventFacts, owners: frozenset[str]) -> tuple[str, str, str]:
    """(title, contact email, contact name) of the meeting an event is imported as."""
    contact = others(event.attendees, owners)[0]
    title = event.summary.strip()[:TITLE_LENGTH]
    return title, contact.email, (contact.name or "").strip()[:CONTACT_NAME_LENGTH]


def key_of(meeting_id: str | None) -> uuid.UUID | None:
    """The meeting id an event's key names, if it is one."""
    if meeting_id is None:
        return None
    try:
        return uuid.UUID(meeting_id)
    except ValueError:
        return None


def updating_event(meeting: MeetingFacts) -> bool:
    """meetgraph is writing the meeting's time to its stored event (a reschedule in flight): the event's old time,
    synced meanwhile, must not move the meeting back. A create in flight (no event id stored yet) is not: an event
    found by its key already is the meeting's, and the owner may have moved it."""
    return meeting.write_pending and meeting.provider_event_id is not None


def linked(event: EventFacts, candidates: Sequence[MeetingFacts]) -> MeetingFacts | None:
    """The meeting the event belongs to: the one whose id is its key, else the one with its provider id."""
    key = key_of(event.key)
    by_key = [m for m in candidates if key is not None and m.id == key]
    if by_key:
        return by_key[0]
    by_id = [m for m in candidates if m.provider_event_id == event.id]
    live = [m for m in by_id if m.status in LIVE_STATUSES]
    return next(iter(live or by_id), None)


def _outcome(
    change: Change,
    meeting: MeetingFacts,
    event_id: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    status: MeetingStatus | None = None,
    imported_as: tuple[str, str, str] | None = None,
) -> Outcome:
    """The meeting's fields with the given ones changed; `imported_as` is (title, contact email, contact name)."""
    title, email, name = imported_as or (meeting.title, meeting.contact_email, meeting.contact_name)
    return Outcome(
        change=change,
        meeting_id=meeting.id,
        provider_event_id=event_id,
        start=start if start is not None else meeting.start,
        end=end if end is not None else meeting.end,
        status=status if status is not None else meeting.status,
        title=title,
        contact_email=email,
        contact_name=name,
    )


def on_changed(
    event: EventFacts,
    meeting: MeetingFacts | None,
    owners: frozenset[str],
    *,
    known_event_ids: AbstractSet[str],
    now: datetime,
) -> Outcome | None:
    """What a new or changed event does; None when nothing is to be written.

    `meeting` is the event's linked meeting (see `linked`), `known_event_ids` the provider ids of the user's
    meetings among the batch's events."""
    if meeting is None:
        if not importable(event, owners, known_event_ids=known_event_ids, now=now):
            return None
        title, email, name = _imported_fields(event, owners)
        return Outcome(
            change=Change.IMPORTED,
            meeting_id=None,
            provider_event_id=event.id,
            start=event.start,
            end=event.end,
            status=IMPORTED_STATUS,
            title=title,
            contact_email=email,
            contact_name=name,
        )
    if meeting.status not in LIVE_STATUSES:
        return None
    if meeting.imported and not (event.key is None and qualifies(event, owners)):
        return _outcome(Change.CANCELLED, meeting, event.id, status=MeetingStatus.CANCELLED)
    fields = _imported_fields(event, owners) if meeting.imported else None
    if (meeting.start, meeting.end) != (event.start, event.end) and not updating_event(meeting):
        return _outcome(Change.MOVED, meeting, event.id, start=event.start, end=event.end, imported_as=fields)
    if fields is not None and fields != (meeting.title, meeting.contact_email, meeting.contact_name):
        return _outcome(Change.REFRESHED, meeting, event.id, imported_as=fields)
    if meeting.provider_event_id != event.id:
        return _outcome(Change.LINKED, meeting, event.id)
    return None


def on_removed(event_id: str, meeting: MeetingFacts | None, *, now: datetime) -> Outcome | None:
    """What an event deleted or cancelled in the calendar does to its linked meeting."""
    if meeting is None or meeting.status not in LIVE_STATUSES or meeting.end <= now:
        return None
    return _outcome(Change.CANCELLED, meeting, event_id, status=MeetingStatus.CANCELLED)


def after(meeting: MeetingFacts | None, outcome: Outcome) -> MeetingFacts:
    """The meeting as it is once the outcome is written (what deciding again sees)."""
    return MeetingFacts(
        id=outcome.meeting_id or (meeting.id if meeting else uuid.uuid4()),
        start=outcome.start,
        end=outcome.end,
        status=outcome.status,
        imported=meeting.imported if meeting else outcome.change is Change.IMPORTED,
        provider_event_id=outcome.provider_event_id,
        title=outcome.title,
        contact_email=outcome.contact_email,
        contact_name=outcome.contact_name,
        write_pending=meeting.write_pending if meeting else False,
    )


MOVE_REFUSED = "moved in the calendar to {start}, where another meeting starts: kept at its time here"


def move_refused(start: datetime) -> str:
    """The meeting's sync_error when its event moved onto the start of another live meeting of the user."""
    return MOVE_REFUSED.format(start=start.isoformat())


def is_move_refusal(note: str | None) -> bool:
    """The note `move_refused` wrote (cleared once the meeting and its event agree again)."""
    return note is not None and note.startswith(MOVE_REFUSED.split("{", 1)[0])
