from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling import reschedule_rules
from scheduling.booking_rules import MeetingStatus
from scheduling.calendars import ProviderKind
from scheduling.errors import InvalidInput, Unsupported
from scheduling.slots import BusyInterval

BASE = datetime(2026, 12, 2, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return BASE + timedelta(minutes=n)


spans = st.tuples(st.integers(0, 600), st.integers(1, 120)).map(
    lambda p: BusyInterval(minutes(p[0]), minutes(p[0] + p[1]))
)


def covered(busy: list[BusyInterval]) -> set[int]:
    """The minutes (from BASE) that some interval covers."""
    return {
        m
        for i in busy
        for m in range(int((i.start - BASE) / timedelta(minutes=1)), int((i.end - BASE) / timedelta(minutes=1)))
    }


@given(st.lists(spans, max_size=8), spans)
def test_without_span_removes_exactly_that_span(busy: list[BusyInterval], own: BusyInterval) -> None:
    # when
    rest = reschedule_rules.without_span(busy, own.start, own.end)
    # then
    own_minutes = covered([own])
    assert covered(rest) == covered(busy) - own_minutes
    assert all(i.start < i.end for i in rest)


def test_a_meeting_not_in_a_calendar_removes_only_its_own_row() -> None:
    # given: the meeting's row, and a calendar event at the same time it never wrote
    own = BusyInterval(minutes(60), minutes(90))
    busy = [own, BusyInterval(minutes(60), minutes(90)), BusyInterval(minutes(0), minutes(30))]
    # when
    kept = reschedule_rules.without_meeting(busy, own.start, own.end, in_calendar=False)
    # then
    assert kept == [BusyInterval(minutes(60), minutes(90)), BusyInterval(minutes(0), minutes(30))]


def test_a_meeting_in_a_calendar_removes_its_whole_span() -> None:
    busy = [BusyInterval(minutes(30), minutes(120))]
    assert reschedule_rules.without_meeting(busy, minutes(60), minutes(90), in_calendar=True) == [
        BusyInterval(minutes(30), minutes(60)),
        BusyInterval(minutes(90), minutes(120)),
    ]


@given(st.integers(1, 24 * 60), st.integers(0, 30 * 24 * 60))
def test_the_moved_span_keeps_the_length(length: int, ahead: int) -> None:
    start, new_start = minutes(0), NOW + timedelta(minutes=ahead)
    moved = reschedule_rules.moved_span(start, start + timedelta(minutes=length), new_start, now=NOW)
    assert moved == (new_start, new_start + timedelta(minutes=length))


def test_a_past_start_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        reschedule_rules.moved_span(minutes(0), minutes(30), NOW - timedelta(seconds=1), now=NOW)
    assert refused.value.field == "start"


@pytest.mark.parametrize(
    ("status", "kind", "error"),
    [
        (MeetingStatus.CANCELLED, ProviderKind.GOOGLE, InvalidInput),
        (MeetingStatus.BOOKED, ProviderKind.EXCHANGE, Unsupported),
        (MeetingStatus.REQUESTED, ProviderKind.EXCHANGE, Unsupported),
    ],
)
def test_cancelled_and_exchange_meetings_are_refused(
    status: MeetingStatus, kind: ProviderKind, error: type[Exception]
) -> None:
    with pytest.raises(error):
        reschedule_rules.check_reschedulable(status, kind)


@pytest.mark.parametrize("kind", [ProviderKind.GOOGLE, ProviderKind.OFFICE365, None])
def test_live_meetings_elsewhere_may_move(kind: ProviderKind | None) -> None:
    reschedule_rules.check_reschedulable(MeetingStatus.BOOKED, kind)


@given(st.lists(spans, max_size=6), spans)
def test_a_free_time_overlaps_no_busy_time(busy: list[BusyInterval], meeting: BusyInterval) -> None:
    free = reschedule_rules.time_free(meeting.start, meeting.end, busy=busy)
    assert free == (not covered(busy) & covered([meeting]))
