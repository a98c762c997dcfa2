"""Exact tests of slot computation: weekly hours, step, buffer, notice, windows, DST and validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from scheduling.slots import (
    DEFAULT_WEEKLY_HOURS,
    END_OF_DAY,
    BusyInterval,
    Slot,
    SlotRules,
    WeeklyHours,
    WeeklyHoursError,
    busy_window_for,
    compute_slots,
    format_weekly_hours,
    is_slot_offered,
    local_to_utc,
    parse_weekly_hours,
    validate_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
MONDAY = date(2026, 6, 15)
HALF_HOUR = timedelta(minutes=30)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def starts(slots: list[Slot]) -> list[datetime]:
    return [slot.start for slot in slots]


def local_starts(slots: list[Slot], zone: ZoneInfo) -> list[str]:
    return [slot.start.astimezone(zone).strftime("%H:%M%z") for slot in slots]


def every(first: datetime, count: int, step: timedelta) -> list[datetime]:
    return [first + step * index for index in range(count)]


def rules(
    zone: ZoneInfo = BERLIN,
    *,
    hours: tuple[WeeklyHours, ...] = DEFAULT_WEEKLY_HOURS,
    duration: timedelta = HALF_HOUR,
    **options: timedelta | None,
) -> SlotRules:
    return SlotRules(weekly_hours=hours, timezone=zone, duration=duration, **options)  # type: ignore[arg-type]


def sunday_hours(start: str, end: str) -> tuple[WeeklyHours, ...]:
    return tuple(parse_weekly_hours([(7, start, end)]))


def slots_on(day: date, page: SlotRules, busy: list[BusyInterval] | None = None) -> list[Slot]:
    window_start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(days=1)
    window_end = window_start + timedelta(days=3)
    found = compute_slots(page, window_start=window_start, window_end=window_end, busy=busy or [], now=NOW)
    return [slot for slot in found if slot.start.astimezone(page.timezone).date() == day]


# --- basics -------------------------------------------------------------------------------------


def test_weekday_nine_to_five_in_berlin_offers_half_hour_slots() -> None:
    # given
    page = rules()

    # when
    slots = slots_on(MONDAY, page)

    # then: CEST is UTC+2, so 09:00-17:00 local is 07:00-15:00 UTC
    assert starts(slots) == every(utc(2026, 6, 15, 7), 16, HALF_HOUR)
    assert all(slot.end - slot.start == HALF_HOUR for slot in slots)
    assert all(slot.start.tzinfo is UTC for slot in slots)
    assert slots[-1].end == utc(2026, 6, 15, 15)


def test_winter_weekday_uses_standard_offset() -> None:
    # given
    page = rules()

    # when
    slots = slots_on(date(2026, 1, 12), page)

    # then: CET is UTC+1
    assert starts(slots) == every(utc(2026, 1, 12, 8), 16, HALF_HOUR)


def test_step_shorter_than_duration_overlaps_candidates() -> None:
    # given
    page = rules(step=timedelta(minutes=15))

    # when
    slots = slots_on(MONDAY, page)

    # then: starts every 15 minutes, the last one still ending by 17:00 local
    assert starts(slots) == every(utc(2026, 6, 15, 7), 31, timedelta(minutes=15))
    assert slots[-1] == Slot(utc(2026, 6, 15, 14, 30), utc(2026, 6, 15, 15))


def test_step_defaults_to_duration_and_is_never_below_five_minutes() -> None:
    # given
    hour_page = rules(duration=timedelta(hours=1))
    tiny_page = rules(hours=sunday_hours("09:00", "09:30"), duration=timedelta(minutes=1))

    # when
    hour_slots = slots_on(MONDAY, hour_page)
    tiny_slots = slots_on(date(2026, 6, 21), tiny_page)

    # then
    assert starts(hour_slots) == every(utc(2026, 6, 15, 7), 8, timedelta(hours=1))
    assert starts(tiny_slots) == every(utc(2026, 6, 21, 7), 6, timedelta(minutes=5))


def test_duration_longer_than_hours_offers_nothing() -> None:
    # given
    page = rules(hours=sunday_hours("09:00", "09:45"), duration=timedelta(hours=1))

    # when / then
    assert slots_on(date(2026, 6, 21), page) == []


def test_weekends_are_empty_with_default_hours() -> None:
    # given
    page = rules()

    # when
    slots = compute_slots(page, window_start=utc(2026, 6, 19, 22), window_end=utc(2026, 6, 21, 22), busy=[], now=NOW)

    # then: 2026-06-20/21 is a weekend in Berlin; the window starts at Saturday 00:00 local
    assert slots == []


def test_busy_time_blocks_only_overlapping_slots() -> None:
    # given: 10:00-11:00 local busy (08:00-09:00 UTC), half-open
    page = rules()
    busy = [BusyInterval(utc(2026, 6, 15, 8), utc(2026, 6, 15, 9))]

    # when
    slots = slots_on(MONDAY, page, busy)

    # then: the slot ending at 10:00 and the one starting at 11:00 local stay offered
    assert utc(2026, 6, 15, 7, 30) in starts(slots)
    assert utc(2026, 6, 15, 9) in starts(slots)
    assert utc(2026, 6, 15, 8) not in starts(slots)
    assert utc(2026, 6, 15, 8, 30) not in starts(slots)
    assert len(slots) == 14


def test_buffer_applies_before_and_after_busy_time() -> None:
    # given: busy 10:00-11:00 local, 15-minute buffer, slots every 15 minutes
    page = rules(buffer=timedelta(minutes=15), step=timedelta(minutes=15))
    busy = [BusyInterval(utc(2026, 6, 15, 8), utc(2026, 6, 15, 9))]

    # when
    slots = slots_on(MONDAY, page, busy)

    # then: last slot before must end by 09:45 local, first after starts at 11:15 local
    offered = starts(slots)
    assert utc(2026, 6, 15, 7, 15) in offered  # 09:15-09:45 local
    assert utc(2026, 6, 15, 7, 30) not in offered  # 09:30-10:00 local touches the buffer
    assert utc(2026, 6, 15, 9) not in offered  # 11:00 local is inside the trailing buffer
    assert utc(2026, 6, 15, 9, 15) in offered  # 11:15 local
    assert len(slots) == 31 - 7


def test_zero_length_busy_blocks_slots_that_contain_it() -> None:
    # given: a zero-length busy instant at 10:15 local
    page = rules()
    busy = [BusyInterval(utc(2026, 6, 15, 8, 15), utc(2026, 6, 15, 8, 15))]

    # when
    slots = slots_on(MONDAY, page, busy)

    # then
    assert utc(2026, 6, 15, 8) not in starts(slots)
    assert len(slots) == 15


def test_minimum_notice_hides_slots_starting_too_soon() -> None:
    # given: it is 09:10 local and the page wants two hours notice
    page = rules(minimum_notice=timedelta(hours=2))
    now = utc(2026, 6, 15, 7, 10)

    # when
    slots = compute_slots(page, window_start=utc(2026, 6, 15), window_end=utc(2026, 6, 16), busy=[], now=now)

    # then: the first start on the 30-minute grid at or after 11:10 local is 11:30 local
    assert slots[0].start == utc(2026, 6, 15, 9, 30)
    assert len(slots) == 11


def test_slot_exactly_at_now_plus_notice_is_offered() -> None:
    # given
    page = rules(minimum_notice=timedelta(hours=1))
    now = utc(2026, 6, 15, 8)

    # when
    slots = compute_slots(page, window_start=utc(2026, 6, 15), window_end=utc(2026, 6, 16), busy=[], now=now)

    # then
    assert slots[0].start == utc(2026, 6, 15, 9)


def test_window_clips_slots_without_shifting_the_grid() -> None:
    # given: window 10:10-12:00 local
    page = rules()

    # when
    slots = compute_slots(page, window_start=utc(2026, 6, 15, 8, 10), window_end=utc(2026, 6, 15, 10), busy=[], now=NOW)

    # then: 10:30 is the first grid start inside; 11:30-12:00 ends exactly at the window end
    assert starts(slots) == [utc(2026, 6, 15, 8, 30), utc(2026, 6, 15, 9), utc(2026, 6, 15, 9, 30)]


def test_window_spanning_a_week_and_window_in_another_zone() -> None:
    # given: same instants expressed in New York time
    page = rules()
    window_start = datetime(2026, 6, 14, 18, tzinfo=NEW_YORK)  # Monday 00:00 Berlin
    window_end = datetime(2026, 6, 21, 18, tzinfo=NEW_YORK)

    # when
    slots = compute_slots(page, window_start=window_start, window_end=window_end, busy=[], now=NOW)

    # then
    assert len(slots) == 5 * 16
    assert slots == sorted(set(slots))
    assert {slot.start.astimezone(BERLIN).isoweekday() for slot in slots} == {1, 2, 3, 4, 5}


def test_empty_window_offers_nothing_and_reversed_window_is_rejected() -> None:
    # given
    page = rules()
    instant = utc(2026, 6, 15, 8)

    # when / then
    assert compute_slots(page, window_start=instant, window_end=instant, busy=[], now=NOW) == []
    with pytest.raises(ValueError):
        compute_slots(page, window_start=instant, window_end=instant - HALF_HOUR, busy=[], now=NOW)


def test_hours_until_midnight_and_from_midnight_do_not_join_across_days() -> None:
    # given: Sunday 22:00-24:00 and Monday 00:00-02:00 with 90-minute meetings, 30-minute step
    hours = tuple(parse_weekly_hours([(7, "22:00", "24:00"), (1, "00:00", "02:00")]))
    page = rules(hours=hours, duration=timedelta(minutes=90), step=HALF_HOUR)

    # when
    slots = compute_slots(page, window_start=utc(2026, 6, 21, 12), window_end=utc(2026, 6, 22, 12), busy=[], now=NOW)

    # then: no slot straddles midnight
    assert local_starts(slots, BERLIN) == ["22:00+0200", "22:30+0200", "00:00+0200", "00:30+0200"]
    assert slots[1].end == utc(2026, 6, 21, 22)


def test_adjacent_intervals_stay_separate_spans() -> None:
    # given
    hours = tuple(parse_weekly_hours([(1, "09:00", "10:00"), (1, "10:00", "11:00")]))
    page = rules(hours=hours, duration=timedelta(minutes=45), step=timedelta(minutes=15))

    # when
    slots = slots_on(MONDAY, page)

    # then
    assert local_starts(slots, BERLIN) == ["09:00+0200", "09:15+0200", "10:00+0200", "10:15+0200"]


# --- busy times from calendars in UTC ---------------------------------------------------------


def test_busy_times_in_utc_block_slots_of_a_page_in_another_zone_to_the_minute() -> None:
    # given: Los Angeles page Monday 09:00-12:00 PDT (16:00-19:00 UTC), 30 min, step 5, buffer 10
    los_angeles = ZoneInfo("America/Los_Angeles")
    page = rules(
        los_angeles,
        hours=tuple(parse_weekly_hours([(1, "09:00", "12:00")])),
        buffer=timedelta(minutes=10),
        step=timedelta(minutes=5),
    )
    primary = [BusyInterval(utc(2026, 7, 6, 16, 47), utc(2026, 7, 6, 17, 3))]
    tokyo = timezone(timedelta(hours=9))
    availability = [
        BusyInterval(datetime(2026, 7, 7, 3, 2, tzinfo=tokyo), datetime(2026, 7, 7, 3, 11, tzinfo=tokyo))
    ]  # 18:02-18:11 UTC

    # when
    slots = compute_slots(
        page,
        window_start=utc(2026, 7, 6),
        window_end=utc(2026, 7, 7),
        busy=primary + availability,
        now=NOW,
    )

    # then: [s, s+30) is free when s+40 <= 16:47, or 17:13 <= s and s+40 <= 18:02, or 18:21 <= s
    assert starts(slots) == [
        utc(2026, 7, 6, 16, 0),
        utc(2026, 7, 6, 16, 5),
        utc(2026, 7, 6, 17, 15),
        utc(2026, 7, 6, 17, 20),
        utc(2026, 7, 6, 18, 25),
        utc(2026, 7, 6, 18, 30),
    ]


def test_busy_window_is_widened_by_buffer_and_duration() -> None:
    # given
    page = rules(buffer=timedelta(minutes=15))

    # when
    start, end = busy_window_for(page, utc(2026, 6, 15), utc(2026, 6, 29))

    # then
    assert start == utc(2026, 6, 14, 23, 15)
    assert end == utc(2026, 6, 29, 0, 45)


def test_busy_outside_the_busy_window_never_changes_slots() -> None:
    # given
    page = rules(buffer=timedelta(minutes=20))
    window_start, window_end = utc(2026, 6, 15, 7), utc(2026, 6, 15, 15)
    fetch_start, fetch_end = busy_window_for(page, window_start, window_end)
    outside = [
        BusyInterval(fetch_start - timedelta(hours=3), fetch_start),
        BusyInterval(fetch_end, fetch_end + timedelta(hours=3)),
    ]

    # when
    with_outside = compute_slots(page, window_start=window_start, window_end=window_end, busy=outside, now=NOW)
    without = compute_slots(page, window_start=window_start, window_end=window_end, busy=[], now=NOW)

    # then
    assert with_outside == without


def test_many_busy_events_over_two_weeks_match_a_naive_check() -> None:
    # given: 3,000 five-minute events, each in the first 20 minutes of some hour over 14 days
    buffer = timedelta(minutes=5)
    page = rules(duration=timedelta(minutes=15), buffer=buffer)
    free_page = rules(duration=timedelta(minutes=15))
    window_start, window_end = utc(2026, 6, 15), utc(2026, 6, 29)
    busy = []
    for index in range(3000):
        start = window_start + timedelta(days=index % 14, hours=(index // 14) % 24, minutes=(index * 7) % 16)
        busy.append(BusyInterval(start, start + timedelta(minutes=5)))

    # when
    slots = compute_slots(page, window_start=window_start, window_end=window_end, busy=busy, now=NOW)
    candidates = compute_slots(free_page, window_start=window_start, window_end=window_end, busy=[], now=NOW)

    # then
    expected = [
        slot
        for slot in candidates
        if not any(b.start < slot.end + buffer and b.end > slot.start - buffer for b in busy)
    ]
    assert slots == expected
    assert len(candidates) == 10 * 32
    assert [slot for slot in slots if slot.start.minute == 30] == [
        slot for slot in candidates if slot.start.minute == 30
    ]
    assert all(slot.start.minute != 0 for slot in slots)


# --- DST ------------------------------------------------------------------------------------------


def test_berlin_spring_forward_day_has_23_hours() -> None:
    # given: Sunday 2026-03-29, 02:00 CET jumps to 03:00 CEST
    page = rules(hours=sunday_hours("00:00", "24:00"), duration=timedelta(hours=1))

    # when
    slots = slots_on(date(2026, 3, 29), page)

    # then
    assert len(slots) == 23
    assert slots[0].start == utc(2026, 3, 28, 23)
    assert slots[-1].end == utc(2026, 3, 29, 22)


def test_berlin_spring_forward_hours_across_the_gap() -> None:
    # given: 01:00-04:00 local is only two real hours on 2026-03-29
    page = rules(hours=sunday_hours("01:00", "04:00"))

    # when
    slots = slots_on(date(2026, 3, 29), page)

    # then
    assert starts(slots) == every(utc(2026, 3, 29, 0), 4, HALF_HOUR)
    assert local_starts(slots, BERLIN) == ["01:00+0100", "01:30+0100", "03:00+0200", "03:30+0200"]
    assert all(slot.start.astimezone(BERLIN).hour != 2 for slot in slots)


def test_berlin_hours_starting_in_the_gap_begin_when_the_gap_ends() -> None:
    # given
    inside_gap = rules(hours=sunday_hours("02:00", "02:30"))
    from_gap = rules(hours=sunday_hours("02:30", "04:00"))

    # when / then: 02:30 does not exist, so hours begin at 03:00 CEST (01:00 UTC)
    assert slots_on(date(2026, 3, 29), inside_gap) == []
    assert starts(slots_on(date(2026, 3, 29), from_gap)) == [utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)]
    assert local_to_utc(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1)


def test_berlin_fall_back_day_has_25_hours() -> None:
    # given: Sunday 2026-10-25, 03:00 CEST falls back to 02:00 CET
    page = rules(hours=sunday_hours("00:00", "24:00"), duration=timedelta(hours=1))

    # when
    slots = slots_on(date(2026, 10, 25), page)

    # then
    assert len(slots) == 25
    assert slots[0].start == utc(2026, 10, 24, 22)
    assert slots[-1].end == utc(2026, 10, 25, 23)


def test_berlin_fall_back_hours_across_the_overlap() -> None:
    # given: 01:00-04:00 local is four real hours on 2026-10-25
    page = rules(hours=sunday_hours("01:00", "04:00"))

    # when
    slots = slots_on(date(2026, 10, 25), page)

    # then: the repeated hour is offered twice, as distinct instants
    assert starts(slots) == every(utc(2026, 10, 24, 23), 8, HALF_HOUR)
    assert local_starts(slots, BERLIN) == [
        "01:00+0200", "01:30+0200", "02:00+0200", "02:30+0200",
        "02:00+0100", "02:30+0100", "03:00+0100", "03:30+0100",
    ]  # fmt: skip
    assert len(set(starts(slots))) == 8


def test_ambiguous_wall_times_use_the_first_occurrence() -> None:
    # given
    ends_in_overlap = rules(hours=sunday_hours("01:00", "02:30"))
    starts_in_overlap = rules(hours=sunday_hours("02:30", "04:00"))

    # when
    before = slots_on(date(2026, 10, 25), ends_in_overlap)
    after = slots_on(date(2026, 10, 25), starts_in_overlap)

    # then: 02:30 means 02:30 CEST (00:30 UTC) both as an end and as a start
    assert before[-1].end == utc(2026, 10, 25, 0, 30)
    assert len(before) == 3
    assert after[0].start == utc(2026, 10, 25, 0, 30)
    assert after[-1].end == utc(2026, 10, 25, 3)
    assert len(after) == 5


def test_new_york_spring_forward() -> None:
    # given: Sunday 2026-03-08, 02:00 EST jumps to 03:00 EDT
    page = rules(NEW_YORK, hours=sunday_hours("01:00", "04:00"))

    # when
    slots = slots_on(date(2026, 3, 8), page)

    # then
    assert starts(slots) == every(utc(2026, 3, 8, 6), 4, HALF_HOUR)
    assert local_starts(slots, NEW_YORK) == ["01:00-0500", "01:30-0500", "03:00-0400", "03:30-0400"]


def test_new_york_fall_back() -> None:
    # given: Sunday 2026-11-01, 02:00 EDT falls back to 01:00 EST
    page = rules(NEW_YORK, hours=sunday_hours("01:00", "04:00"))

    # when
    slots = slots_on(date(2026, 11, 1), page)

    # then
    assert starts(slots) == every(utc(2026, 11, 1, 5), 8, HALF_HOUR)
    assert local_starts(slots, NEW_YORK) == [
        "01:00-0400", "01:30-0400", "01:00-0500", "01:30-0500",
        "02:00-0500", "02:30-0500", "03:00-0500", "03:30-0500",
    ]  # fmt: skip


def test_new_york_weekdays_around_the_change_keep_local_hours() -> None:
    # given: the Friday before and the Monday after the March change
    page = rules(NEW_YORK)

    # when
    friday = slots_on(date(2026, 3, 6), page)
    monday = slots_on(date(2026, 3, 9), page)

    # then
    assert friday[0].start == utc(2026, 3, 6, 14)
    assert monday[0].start == utc(2026, 3, 9, 13)
    assert len(friday) == len(monday) == 16


def test_half_hour_offset_zones() -> None:
    # given
    kolkata = rules(ZoneInfo("Asia/Kolkata"))
    adelaide = rules(ZoneInfo("Australia/Adelaide"))

    # when
    kolkata_slots = slots_on(MONDAY, kolkata)
    adelaide_slots = slots_on(MONDAY, adelaide)

    # then: +05:30 and, in the southern winter, +09:30
    assert starts(kolkata_slots) == every(utc(2026, 6, 15, 3, 30), 16, HALF_HOUR)
    assert adelaide_slots[0].start == utc(2026, 6, 14, 23, 30)
    assert adelaide_slots[-1].end == utc(2026, 6, 15, 7, 30)


def test_adelaide_spring_forward() -> None:
    # given: Sunday 2026-10-04, 02:00 ACST (+09:30) jumps to 03:00 ACDT (+10:30)
    adelaide = ZoneInfo("Australia/Adelaide")
    page = rules(adelaide, hours=sunday_hours("01:00", "04:00"))

    # when
    slots = slots_on(date(2026, 10, 4), page)

    # then
    assert starts(slots) == every(utc(2026, 10, 3, 15, 30), 4, HALF_HOUR)
    assert local_starts(slots, adelaide) == ["01:00+0930", "01:30+0930", "03:00+1030", "03:30+1030"]


def test_lord_howe_half_hour_spring_forward() -> None:
    # given: Sunday 2026-10-04, 02:00 (+10:30) jumps to 02:30 (+11:00)
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    page = rules(lord_howe, hours=sunday_hours("01:00", "04:00"))

    # when
    slots = slots_on(date(2026, 10, 4), page)

    # then: 2.5 real hours, no slot at the nonexistent 02:00
    assert starts(slots) == every(utc(2026, 10, 3, 14, 30), 5, HALF_HOUR)
    assert local_starts(slots, lord_howe) == [
        "01:00+1030", "01:30+1030", "02:30+1100", "03:00+1100", "03:30+1100",
    ]  # fmt: skip


def test_lord_howe_half_hour_fall_back() -> None:
    # given: Sunday 2026-04-05, 02:00 (+11:00) falls back to 01:30 (+10:30)
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    page = rules(lord_howe, hours=sunday_hours("01:00", "04:00"))

    # when
    slots = slots_on(date(2026, 4, 5), page)

    # then: 3.5 real hours, 01:30 offered in both offsets
    assert starts(slots) == every(utc(2026, 4, 4, 14), 7, HALF_HOUR)
    assert local_starts(slots, lord_howe) == [
        "01:00+1100", "01:30+1100", "01:30+1030", "02:00+1030",
        "02:30+1030", "03:00+1030", "03:30+1030",
    ]  # fmt: skip


def test_midnight_gap_in_santiago_starts_hours_after_the_gap() -> None:
    # given: America/Santiago skips 00:00-01:00 on Sunday 2026-09-06
    santiago = ZoneInfo("America/Santiago")
    page = rules(santiago, hours=sunday_hours("00:00", "03:00"), duration=timedelta(hours=1))

    # when
    slots = slots_on(date(2026, 9, 6), page)

    # then
    assert starts(slots) == [utc(2026, 9, 6, 4), utc(2026, 9, 6, 5)]
    assert local_starts(slots, santiago) == ["01:00-0300", "02:00-0300"]


# --- re-checking one slot at booking time --------------------------------------------------------


def test_is_slot_offered_matches_compute_slots() -> None:
    # given
    page = rules(buffer=timedelta(minutes=10), minimum_notice=timedelta(hours=1))
    busy = [BusyInterval(utc(2026, 6, 15, 9, 5), utc(2026, 6, 15, 9, 20))]
    now = utc(2026, 6, 15, 6, 30)

    # when / then
    assert is_slot_offered(page, utc(2026, 6, 15, 7, 30), busy=busy, now=now)
    assert not is_slot_offered(page, utc(2026, 6, 15, 7), busy=busy, now=now)  # inside notice
    assert not is_slot_offered(page, utc(2026, 6, 15, 9), busy=busy, now=now)  # busy
    assert not is_slot_offered(page, utc(2026, 6, 15, 8, 45), busy=busy, now=now)  # buffer
    assert not is_slot_offered(page, utc(2026, 6, 15, 7, 45), busy=busy, now=now)  # off the grid
    assert not is_slot_offered(page, utc(2026, 6, 15, 14, 45), busy=busy, now=now)  # past 17:00
    assert not is_slot_offered(page, utc(2026, 6, 20, 9), busy=busy, now=now)  # Saturday
    assert is_slot_offered(page, datetime(2026, 6, 15, 12, tzinfo=BERLIN), busy=busy, now=now)


def test_is_slot_offered_in_the_repeated_hour() -> None:
    # given
    page = rules(hours=sunday_hours("01:00", "04:00"))
    second_two_oclock = datetime(2026, 10, 25, 2, fold=1, tzinfo=BERLIN)

    # when / then
    assert is_slot_offered(page, second_two_oclock, busy=[], now=NOW)
    assert is_slot_offered(page, datetime(2026, 10, 25, 2, tzinfo=BERLIN), busy=[], now=NOW)


# --- validation -----------------------------------------------------------------------------------


def test_parse_weekly_hours_sorts_and_accepts_end_of_day() -> None:
    # given
    items = [(3, "13:00", "24:00"), (1, "09:00", "12:00"), (3, "08:00", "12:00"), (1, "12:00", "17:30")]

    # when
    hours = parse_weekly_hours(items)

    # then
    assert hours == [
        WeeklyHours(1, time(9), time(12)),
        WeeklyHours(1, time(12), time(17, 30)),
        WeeklyHours(3, time(8), time(12)),
        WeeklyHours(3, time(13), END_OF_DAY),
    ]
    assert hours[-1].ends_at_midnight
    assert [format_weekly_hours(h) for h in hours] == sorted(items)


def test_parse_weekly_hours_accepts_no_hours() -> None:
    assert parse_weekly_hours([]) == []


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([(0, "09:00", "17:00")], "weeklyHours[0].weekday"),
        ([(1, "09:00", "17:00"), (8, "09:00", "17:00")], "weeklyHours[1].weekday"),
        ([(True, "09:00", "17:00")], "weeklyHours[0].weekday"),
        ([(1, "9:00", "17:00")], "weeklyHours[0].start"),
        ([(1, "24:00", "24:00")], "weeklyHours[0].start"),
        ([(1, "09:60", "17:00")], "weeklyHours[0].start"),
        ([(1, "09:00", "24:01")], "weeklyHours[0].end"),
        ([(1, "09:00", "25:00")], "weeklyHours[0].end"),
        ([(1, "09:00", " 17:00")], "weeklyHours[0].end"),
        ([(1, "09:00", "09:00")], "weeklyHours[0].end"),
        ([(1, "17:00", "09:00")], "weeklyHours[0].end"),
        ([(1, "09:00", None)], "weeklyHours[0].end"),
        ([(1, "09:00", "12:00"), (2, "09:00", "12:00"), (1, "11:00", "13:00")], "weeklyHours[2].start"),
        ([(1, "11:00", "13:00"), (1, "09:00", "12:00")], "weeklyHours[0].start"),
        ([(5, "09:00", "12:00"), (5, "09:00", "12:00")], "weeklyHours[1].start"),
        ([(5, "00:00", "24:00"), (5, "23:00", "24:00")], "weeklyHours[1].start"),
    ],
)
def test_parse_weekly_hours_errors_carry_the_field_path(items: list[tuple[int, str, str]], field: str) -> None:
    # when
    with pytest.raises(WeeklyHoursError) as caught:
        parse_weekly_hours(items)

    # then
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_weekly_hours_rejects_bad_values_when_built_directly() -> None:
    with pytest.raises(ValueError):
        WeeklyHours(0, time(9), time(17))
    with pytest.raises(ValueError):
        WeeklyHours(1, time(17), time(9))


def test_default_weekly_hours_are_monday_to_friday_nine_to_five() -> None:
    assert [format_weekly_hours(h) for h in DEFAULT_WEEKLY_HOURS] == [
        (weekday, "09:00", "17:00") for weekday in range(1, 6)
    ]


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_validate_timezone_accepts_iana_names(name: str) -> None:
    assert validate_timezone(name) == ZoneInfo(name)


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus_Mons", "Europe/Berlin ", "/etc/passwd", "../Europe/Berlin", "Europe//Berlin"]
)
def test_validate_timezone_rejects_unknown_names(name: str) -> None:
    with pytest.raises(ValueError):
        validate_timezone(name)


def test_naive_datetimes_are_rejected() -> None:
    # given
    page = rules()
    naive = datetime(2026, 6, 15, 9)
    aware = utc(2026, 6, 15, 9)

    # when / then
    with pytest.raises(ValueError):
        compute_slots(page, window_start=naive, window_end=aware, busy=[], now=NOW)
    with pytest.raises(ValueError):
        compute_slots(page, window_start=aware, window_end=aware, busy=[], now=naive)
    with pytest.raises(ValueError):
        compute_slots(page, window_start=aware, window_end=aware, busy=[BusyInterval(naive, aware)], now=NOW)
    with pytest.raises(ValueError):
        is_slot_offered(page, naive, busy=[], now=NOW)
    with pytest.raises(ValueError):
        busy_window_for(page, naive, aware)


def test_reversed_busy_interval_is_rejected() -> None:
    with pytest.raises(ValueError):
        compute_slots(
            rules(),
            window_start=utc(2026, 6, 15),
            window_end=utc(2026, 6, 16),
            busy=[BusyInterval(utc(2026, 6, 15, 9), utc(2026, 6, 15, 8))],
            now=NOW,
        )


@pytest.mark.parametrize(
    "options",
    [
        {"duration": timedelta(0)},
        {"buffer": timedelta(minutes=-1)},
        {"minimum_notice": timedelta(minutes=-1)},
        {"step": timedelta(0)},
    ],
)
def test_slot_rules_reject_invalid_values(options: dict[str, timedelta]) -> None:
    with pytest.raises(ValueError):
        rules(**options)  # type: ignore[arg-type]
