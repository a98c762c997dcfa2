"""Booking a scheduling page (scheduling.booking_rules): page state, meeting status, refusals, slot rules."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.booking_rules import (
    LIVE_STATUSES,
    BookingOutcome,
    MeetingStatus,
    PageState,
    Refusal,
    access_lost,
    just_taken,
    not_offered,
    page_state,
    pages_disabled,
    slot_rules,
)
from scheduling.errors import AccessLost, PagesDisabled, SlotUnavailable
from scheduling.slots import END_OF_DAY, SlotRules, WeeklyHours, WeeklyHoursError

# --- page state ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pages_active", "scheduling_pages_enabled", "has_connection"),
    list(itertools.product((True, False), repeat=3)),
)
def test_page_state_truth_table(pages_active: bool, scheduling_pages_enabled: bool, has_connection: bool) -> None:
    # when
    state = page_state(
        pages_active=pages_active, scheduling_pages_enabled=scheduling_pages_enabled, has_connection=has_connection
    )

    # then
    assert state.active is pages_active
    assert state.offline is not (scheduling_pages_enabled and has_connection)


def test_an_owner_with_a_calendar_and_pages_on_is_online() -> None:
    assert page_state(pages_active=True, scheduling_pages_enabled=True, has_connection=True) == PageState(
        active=True, offline=False
    )


def test_an_owner_without_a_calendar_is_offline() -> None:
    assert page_state(pages_active=True, scheduling_pages_enabled=True, has_connection=False).offline is True


def test_an_owner_who_turned_scheduling_pages_off_is_offline() -> None:
    assert page_state(pages_active=True, scheduling_pages_enabled=False, has_connection=True).offline is True


def test_deactivated_pages_are_inactive_even_when_online() -> None:
    assert page_state(pages_active=False, scheduling_pages_enabled=True, has_connection=True).active is False


@pytest.mark.parametrize(
    ("offline", "status", "outcome"),
    [
        (False, MeetingStatus.BOOKED, BookingOutcome.BOOKED),
        (True, MeetingStatus.REQUESTED, BookingOutcome.REQUESTED),
    ],
    ids=["online", "offline"],
)
def test_offline_pages_take_requests_online_pages_book(
    offline: bool, status: MeetingStatus, outcome: BookingOutcome
) -> None:
    # given
    state = PageState(active=True, offline=offline)

    # then
    assert state.meeting_status is status
    assert state.booked_outcome is outcome


def test_live_statuses_hold_their_time_cancelled_does_not() -> None:
    assert set(LIVE_STATUSES) == {MeetingStatus.BOOKED, MeetingStatus.REQUESTED}
    assert MeetingStatus.CANCELLED not in LIVE_STATUSES


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refuse", "outcome", "error_type"),
    [
        (pages_disabled, BookingOutcome.PAGES_DISABLED, PagesDisabled),
        (lambda: access_lost(["Team holidays"]), BookingOutcome.BLOCKED_CALENDAR_ACCESS, AccessLost),
        (not_offered, BookingOutcome.SLOT_UNAVAILABLE, SlotUnavailable),
        (just_taken, BookingOutcome.SLOT_UNAVAILABLE, SlotUnavailable),
    ],
    ids=["pages-disabled", "access-lost", "not-offered", "just-taken"],
)
def test_each_refusal_records_its_outcome_and_gives_its_error(
    refuse: Callable[[], Refusal], outcome: BookingOutcome, error_type: type[Exception]
) -> None:
    # when
    refusal = refuse()

    # then
    assert refusal.outcome is outcome
    assert type(refusal.error) is error_type
    assert refusal.record


def test_a_lost_access_refusal_records_every_lost_calendar() -> None:
    # when
    refusal = access_lost(["Team holidays", "Ada's shared calendar"])

    # then
    assert "Team holidays" in refusal.record
    assert "Ada's shared calendar" in refusal.record


def test_refusals_for_a_time_not_offered_and_just_taken_are_told_apart_in_the_record() -> None:
    assert not_offered().record != just_taken().record


def test_every_refusal_outcome_is_neither_booked_nor_requested() -> None:
    # given
    refusals = [pages_disabled(), access_lost(["x"]), not_offered(), just_taken()]

    # then
    assert all(r.outcome not in (BookingOutcome.BOOKED, BookingOutcome.REQUESTED) for r in refusals)


# --- slot rules from a stored page --------------------------------------------------------------


def test_slot_rules_from_stored_page_fields() -> None:
    # given
    stored_hours = [
        {"weekday": 3, "start": "13:00", "end": "17:30"},
        {"weekday": 1, "start": "09:00", "end": "12:00"},
        {"weekday": 1, "start": "13:00", "end": "17:00"},
        {"weekday": 6, "start": "20:00", "end": "24:00"},
    ]

    # when
    rules = slot_rules(
        weekly_hours=stored_hours,
        timezone="Europe/Berlin",
        duration_minutes=45,
        buffer_minutes=10,
        minimum_notice_minutes=120,
    )

    # then
    assert rules == SlotRules(
        weekly_hours=[
            WeeklyHours(1, time(9), time(12)),
            WeeklyHours(1, time(13), time(17)),
            WeeklyHours(3, time(13), time(17, 30)),
            WeeklyHours(6, time(20), END_OF_DAY),
        ],
        timezone=ZoneInfo("Europe/Berlin"),
        duration=timedelta(minutes=45),
        buffer=timedelta(minutes=10),
        minimum_notice=timedelta(hours=2),
    )
    assert rules.step is None


def test_slot_rules_with_no_buffer_or_notice() -> None:
    # when
    rules = slot_rules(
        weekly_hours=[{"weekday": 7, "start": "10:00", "end": "11:00"}],
        timezone="UTC",
        duration_minutes=30,
        buffer_minutes=0,
        minimum_notice_minutes=0,
    )

    # then
    assert rules == SlotRules(
        weekly_hours=[WeeklyHours(7, time(10), time(11))],
        timezone=ZoneInfo("UTC"),
        duration=timedelta(minutes=30),
    )


def test_slot_rules_refuse_an_unknown_stored_timezone() -> None:
    with pytest.raises(ValueError):
        slot_rules(
            weekly_hours=[],
            timezone="Mars/Olympus_Mons",
            duration_minutes=30,
            buffer_minutes=0,
            minimum_notice_minutes=0,
        )


def test_slot_rules_refuse_malformed_stored_hours() -> None:
    with pytest.raises(WeeklyHoursError):
        slot_rules(
            weekly_hours=[{"weekday": 1, "start": "17:00", "end": "09:00"}],
            timezone="UTC",
            duration_minutes=30,
            buffer_minutes=0,
            minimum_notice_minutes=0,
        )
