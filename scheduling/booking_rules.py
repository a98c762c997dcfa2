"""Booking a scheduling page (SPEC "Booking", "Lost access", "Deactivate / activate", offline mode).

- A page is active unless its owner deactivated all pages; deactivated pages refuse bookings.
- A page is offline while its owner has no connected calendar (or turned scheduling pages off):
  bookings become REQUESTED meetings that go into no calendar, and the owner is notified.
- While access to any checked calendar is lost, nobody can book the owner's pages.
- Booking re-checks the slot with the page's slot rules at the moment of booking.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from scheduling import slots
from scheduling.errors import AccessLost, PagesDisabled, SlotUnavailable, UserError


class MeetingStatus(str, enum.Enum):
    BOOKED = "BOOKED"
    REQUESTED = "REQUESTED"
    CANCELLED = "CANCELLED"


LIVE_STATUSES = (MeetingStatus.BOOKED, MeetingStatus.REQUESTED)
"""Meetings that hold their time: they are busy time, and no second live meeting may start with them."""


class BookingOutcome(str, enum.Enum):
    BOOKED = "BOOKED"
    REQUESTED = "REQUESTED"
    BLOCKED_CALENDAR_ACCESS = "BLOCKED_CALENDAR_ACCESS"
    SLOT_UNAVAILABLE = "SLOT_UNAVAILABLE"
    PAGES_DISABLED = "PAGES_DISABLED"


@dataclass(frozen=True)
class PageState:
    active: bool
    """The owner has not deactivated their scheduling pages."""
    offline: bool
    """No calendar is used for the pages: bookings become REQUESTED meetings."""

    @property
    def meeting_status(self) -> MeetingStatus:
        return MeetingStatus.REQUESTED if self.offline else MeetingStatus.BOOKED

    @property
    def booked_outcome(self) -> BookingOutcome:
        return BookingOutcome.REQUESTED if self.offline else BookingOutcome.BOOKED


def page_state(*, pages_active: bool, scheduling_pages_enabled: bool, has_connection: bool) -> PageState:
    return PageState(active=pages_active, offline=not has_connection or not scheduling_pages_enabled)


def slot_rules(
    *,
    weekly_hours: Iterable[Mapping[str, Any]],
    timezone: str,
    duration_minutes: int,
    buffer_minutes: int,
    minimum_notice_minutes: int,
) -> slots.SlotRules:
    """A page's stored settings as the slot computation's rules."""
    hours = slots.parse_weekly_hours([(h["weekday"], h["start"], h["end"]) for h in weekly_hours])
    return slots.SlotRules(
        weekly_hours=hours,
        timezone=slots.validate_timezone(timezone),
        duration=timedelta(minutes=duration_minutes),
        buffer=timedelta(minutes=buffer_minutes),
        minimum_notice=timedelta(minutes=minimum_notice_minutes),
    )


@dataclass(frozen=True)
class Refusal:
    """Why a booking attempt is refused: what the attempt records, and the typed error the visitor gets."""

    outcome: BookingOutcome
    record: str
    error: UserError


def pages_disabled() -> Refusal:
    return Refusal(
        BookingOutcome.PAGES_DISABLED,
        "scheduling pages are deactivated",
        PagesDisabled("This user's scheduling pages are deactivated."),
    )


def access_lost(calendar_names: Sequence[str]) -> Refusal:
    """Any lost calendar blocks every booking, even though the other calendars still work."""
    return Refusal(
        BookingOutcome.BLOCKED_CALENDAR_ACCESS,
        f"access lost to {', '.join(calendar_names)}",
        AccessLost("This user's calendar cannot be checked right now, so no meeting can be booked."),
    )


def not_offered() -> Refusal:
    return Refusal(
        BookingOutcome.SLOT_UNAVAILABLE,
        "the time is not offered",
        SlotUnavailable("That time is not available; please choose another."),
    )


def just_taken() -> Refusal:
    return Refusal(
        BookingOutcome.SLOT_UNAVAILABLE,
        "the time was just taken",
        SlotUnavailable("That time was just booked by someone else; please choose another."),
    )
