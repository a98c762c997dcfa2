"""Meetings logged on CRM records, cancelling, and CRM tasks (SPEC "Calendar sync", "Task sync",
"Exchange limitations").

- A CRM meeting becomes a calendar invitation to the contact only while calendar sync is on, the main
  connection has two-way sync (not Exchange) and a primary calendar; otherwise only a record is logged.
  Meetings created by integrations are never synced.
- Meetings in an Exchange-linked calendar cannot be cancelled.
- With task sync on, tasks are written to the tasks sub-calendar as short events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduling import validation
from scheduling.booking_rules import MeetingStatus
from scheduling.calendars import ProviderKind, capabilities_of
from scheduling.errors import InvalidInput, Unsupported

MAX_LENGTH = timedelta(hours=24)
TASK_EVENT_LENGTH = timedelta(minutes=15)


def meeting_span(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Both ends with a UTC offset, end after start and at most MAX_LENGTH later; returned in UTC."""
    start, end = validation.instant(start, "start"), validation.instant(end, "end")
    if end <= start or end - start > MAX_LENGTH:
        raise InvalidInput("end must be after start, at most 24 hours later", field="end")
    return start, end


def crm_meeting_syncs(
    *, from_integration: bool, calendar_sync: bool, kind: ProviderKind | None, has_primary_calendar: bool
) -> bool:
    """Whether a CRM meeting is written to the calendar (an invitation to the contact)."""
    return (
        not from_integration
        and calendar_sync
        and kind is not None
        and capabilities_of(kind).two_way_sync
        and has_primary_calendar
    )


def check_cancellable(status: MeetingStatus, kind: ProviderKind | None) -> None:
    if status is MeetingStatus.CANCELLED:
        raise InvalidInput("the meeting is already cancelled", field="id")
    if kind is not None and not capabilities_of(kind).cancel_meetings:
        raise Unsupported("Meetings in an Exchange-linked calendar cannot be cancelled from here.")


def task_syncs(*, task_sync: bool, connected: bool) -> bool:
    """A new task is written to the tasks sub-calendar (created when task sync was turned on)."""
    return task_sync and connected
