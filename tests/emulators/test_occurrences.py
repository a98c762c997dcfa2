"""Series in the emulators' world: EmulatorState.occurrences expands daily and weekly series as calendars do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emulators.state import EmulatedRecurrence, EmulatorState

OWNER = "owner@example.test"
MONDAY = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)  # 09:00 in Berlin (CEST, UTC+2)


def world() -> tuple[EmulatorState, str]:
    state = EmulatorState(id_prefix="t")
    account = state.add_account(OWNER)
    return state, account.primary_calendar_id


def starts(state: EmulatorState, calendar_id: str, start: datetime, end: datetime) -> list[datetime]:
    return [e.start for e in state.occurrences(calendar_id, start, end)]


def test_a_weekly_series_keeps_its_wall_clock_time_across_daylight_saving() -> None:
    # given: Mondays 09:00-10:00 in Berlin; summer time ends on Sunday 2026-10-25
    state, calendar = world()
    state.add_event(
        calendar,
        MONDAY,
        MONDAY + timedelta(hours=1),
        timezone="Europe/Berlin",
        recurrence=EmulatedRecurrence("weekly"),
    )
    # when
    found = state.occurrences(calendar, MONDAY, MONDAY + timedelta(days=14))
    # then: 09:00 Berlin is 07:00 UTC before the change and 08:00 UTC after it
    assert [(e.start, e.end) for e in found] == [
        (MONDAY, MONDAY + timedelta(hours=1)),
        (MONDAY + timedelta(days=7, hours=1), MONDAY + timedelta(days=7, hours=2)),
    ]
    assert all(e.occurrence_of is not None and e.recurrence is None for e in found)
    assert len({e.id for e in found}) == 2


def test_weekdays_interval_and_count_end_a_series() -> None:
    # given: every second week on Monday and Thursday, four occurrences
    state, calendar = world()
    rule = EmulatedRecurrence("weekly", interval=2, weekdays=(0, 3), count=4)
    state.add_event(calendar, MONDAY, MONDAY + timedelta(minutes=30), recurrence=rule)
    # when / then
    assert starts(state, calendar, MONDAY, MONDAY + timedelta(days=60)) == [
        MONDAY,
        MONDAY + timedelta(days=3),
        MONDAY + timedelta(days=14),
        MONDAY + timedelta(days=17),
    ]


def test_a_daily_series_ends_at_until_and_only_overlapping_occurrences_are_listed() -> None:
    # given: every other day until (and including) the fifth day after the first
    state, calendar = world()
    rule = EmulatedRecurrence("daily", interval=2, until=MONDAY + timedelta(days=4))
    state.add_event(calendar, MONDAY, MONDAY + timedelta(hours=1), recurrence=rule)
    # when / then: the window starts inside the first occurrence and ends before the last one starts
    window = (MONDAY + timedelta(minutes=30), MONDAY + timedelta(days=4))
    assert starts(state, calendar, *window) == [MONDAY, MONDAY + timedelta(days=2)]
    assert starts(state, calendar, MONDAY, MONDAY + timedelta(days=30)) == [
        MONDAY + timedelta(days=d) for d in (0, 2, 4)
    ]


def test_busy_counts_occurrences_but_not_cancelled_or_free_series() -> None:
    # given
    state, calendar = world()
    weekly = EmulatedRecurrence("weekly")
    state.add_event(calendar, MONDAY, MONDAY + timedelta(hours=1), recurrence=weekly)
    state.add_event(calendar, MONDAY + timedelta(hours=2), MONDAY + timedelta(hours=3), recurrence=weekly, busy=False)
    cancelled = state.add_event(calendar, MONDAY + timedelta(hours=4), MONDAY + timedelta(hours=5), recurrence=weekly)
    cancelled.cancelled = True
    # when
    busy = state.busy(calendar, MONDAY, MONDAY + timedelta(days=21))
    # then
    assert [e.start for e in busy] == [MONDAY + timedelta(days=d) for d in (0, 7, 14)]


def test_an_all_day_series_stays_midnight_to_midnight_in_its_zone() -> None:
    # given: all day on Saturdays in Berlin, from 2026-10-24 (CEST; winter time from the Sunday after)
    state, calendar = world()
    midnight = datetime(2026, 10, 23, 22, 0, tzinfo=UTC)
    state.add_event(
        calendar,
        midnight,
        midnight + timedelta(days=1),
        timezone="Europe/Berlin",
        all_day=True,
        recurrence=EmulatedRecurrence("weekly", count=2),
    )
    # when
    found = state.occurrences(calendar, midnight, midnight + timedelta(days=14))
    # then
    next_midnight = datetime(2026, 10, 30, 23, 0, tzinfo=UTC)
    assert [(e.start, e.end) for e in found] == [
        (midnight, midnight + timedelta(days=1)),
        (next_midnight, next_midnight + timedelta(days=1)),
    ]
    assert all(e.all_day for e in found)
