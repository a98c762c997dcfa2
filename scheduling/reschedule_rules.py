"""Moving a meeting to a new start (SPEC "Exchange limitations", "Booking"; issue 12 rescheduling).

- Only a live meeting moves; a cancelled one is refused like cancelling it again (field `id`).
- Meetings in an Exchange-linked calendar cannot be rescheduled (capabilities), refused before anything else.
- Meetings synced in from the calendar (two-way sync) move like any other: their event is moved in place, its
  time only (CalendarProvider.move_event), so the attendees and text meetgraph does not hold stay the owner's.
- The meeting keeps its length; the new start lies in the future.
- The new time is checked like a booking, with the meeting itself not counted: its own time is not busy
  (its event in the calendar and its row in the database are what is being moved). Free/busy answers carry
  no event ids, so the meeting's own span is taken out of the busy time as a whole.
- A page booking must land on one of the page's slots (weekly hours, grid, notice, buffers); any other
  meeting only needs the time free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from scheduling import slots, validation
from scheduling.booking_rules import MeetingStatus
from scheduling.calendars import ProviderKind, capabilities_of
from scheduling.errors import InvalidInput, Unsupported
from scheduling.slots import BusyInterval, SlotRules


def check_reschedulable(status: MeetingStatus, kind: ProviderKind | None) -> None:
    if status is MeetingStatus.CANCELLED:
        raise InvalidInput("a cancelled meeting cannot be rescheduled", field="id")
    if kind is not None and not capabilities_of(kind).reschedule_meetings:
        raise Unsupported("Meetings in an Exchange-linked calendar cannot be rescheduled from here.")


def moved_span(start: datetime, end: datetime, new_start: datetime, *, now: datetime) -> tuple[datetime, datetime]:
    """The meeting's new [start, end) in UTC, of the same length; a start without offset or in the past is refused."""
    moment = validation.instant(new_start, "start")
    if moment < now:
        raise InvalidInput("start must not be in the past", field="start")
    return moment, moment + (end - start)


def without_span(busy: Iterable[BusyInterval], start: datetime, end: datetime) -> list[BusyInterval]:
    """Busy time with [start, end) taken out (an interval covering it is split in two)."""
    kept: list[BusyInterval] = []
    for interval in busy:
        if interval.end <= start or interval.start >= end:
            kept.append(interval)
            continue
        if interval.start < start:
            kept.append(BusyInterval(interval.start, start))
        if interval.end > end:
            kept.append(BusyInterval(end, interval.end))
    return kept


def without_meeting(
    busy: Iterable[BusyInterval], start: datetime, end: datetime, *, in_calendar: bool
) -> list[BusyInterval]:
    """Busy time (calendars and live meetings) without the meeting being moved: its whole span when its event
    is (or is being written) in the calendar, else only its own row's interval."""
    if in_calendar:
        return without_span(busy, start, end)
    rest = list(busy)
    own = BusyInterval(start, end)
    if own in rest:
        rest.remove(own)
    return rest


def rules_for_meeting(rules: SlotRules, start: datetime, end: datetime) -> SlotRules:
    """The page's rules for a meeting of this length: its slot grid stays the page's even when the page's
    duration has been changed since the booking."""
    return dataclasses.replace(rules, duration=end - start, step=rules.effective_step)


def page_slot_free(
    rules: SlotRules, start: datetime, end: datetime, *, busy: Iterable[BusyInterval], now: datetime
) -> bool:
    """Whether the page offers a slot at `start` for this meeting, given busy time without the meeting itself."""
    return slots.is_slot_offered(rules_for_meeting(rules, start, end), start, busy=busy, now=now)


def time_free(start: datetime, end: datetime, *, busy: Iterable[BusyInterval]) -> bool:
    """A meeting with no page: the time only has to be free."""
    return all(interval.end <= start or interval.start >= end for interval in busy)
