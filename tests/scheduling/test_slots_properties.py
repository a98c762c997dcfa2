"""Property-based tests of slot computation against a brute-force reference (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling.slots import (
    MINIMUM_STEP,
    BusyInterval,
    Slot,
    SlotRules,
    WeeklyHours,
    compute_slots,
    is_slot_offered,
    parse_weekly_hours,
)

ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/Dublin",
    "America/New_York",
    "America/Santiago",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]
YEAR_DAYS = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(365)]


def _offset_change_days(zone_name: str) -> tuple[date, ...]:
    """Local days of 2026 whose noon offset differs from the previous day's: where DST changes happen."""
    zone = ZoneInfo(zone_name)
    noon_offsets = [zone.utcoffset(datetime.combine(day, time(12))) for day in YEAR_DAYS]
    return tuple(day for day, before, after in zip(YEAR_DAYS[1:], noon_offsets, noon_offsets[1:]) if before != after)


CHANGE_DAYS = {zone_name: _offset_change_days(zone_name) for zone_name in ZONES}
MINUTE = timedelta(minutes=1)
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Scenario:
    rules: SlotRules
    window_start: datetime
    window_end: datetime
    busy: list[BusyInterval]
    now: datetime


def _minutes_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _changing_quarters(zone: ZoneInfo, days: tuple[date, ...]) -> list[tuple[int, int]]:
    """(weekday, quarter-hour) of wall times on `days` that are nonexistent or ambiguous, and their neighbours."""
    found = []
    for day in days:
        for quarter in range(96):
            local = datetime.combine(day, time(quarter // 4, quarter % 4 * 15))
            if zone.utcoffset(local) != zone.utcoffset(local.replace(fold=1)):
                found += [(day.isoweekday(), q) for q in (quarter - 1, quarter, quarter + 1) if 0 <= q < 96]
    return found


@st.composite
def weekly_hours(draw: st.DrawFn, zone: ZoneInfo, focus_day: date) -> list[WeeklyHours]:
    """Quarter-hour aligned intervals: up to one or two a weekday plus some starting where the focus day's
    DST change is; intervals overlapping an earlier one on the same day are dropped."""
    quarters, lengths = st.integers(0, 95), st.one_of(st.integers(4, 64), st.integers(1, 8))
    drawn: list[tuple[int, int, int]] = []
    for weekday in range(1, 8):
        for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
            drawn.append((weekday, draw(quarters), draw(lengths)))
    changing = _changing_quarters(zone, (focus_day - timedelta(days=1), focus_day))
    if changing:
        for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
            weekday, quarter = draw(st.sampled_from(changing))
            drawn.insert(0, (weekday, quarter, draw(lengths)))
    taken: list[tuple[int, int, int]] = []
    for weekday, quarter, length in drawn:
        start, end = quarter * 15, min((quarter + length) * 15, 24 * 60)
        if all(day != weekday or end <= other_start or start >= other_end for day, other_start, other_end in taken):
            taken.append((weekday, start, end))
    return parse_weekly_hours([(day, _minutes_text(start), _minutes_text(end)) for day, start, end in taken])


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zone_name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(zone_name)
    days = st.sampled_from(YEAR_DAYS)
    focus_day = draw(st.one_of(st.sampled_from(CHANGE_DAYS[zone_name]), days) if CHANGE_DAYS[zone_name] else days)
    rules = SlotRules(
        weekly_hours=draw(weekly_hours(zone, focus_day)),
        timezone=zone,
        duration=timedelta(minutes=draw(st.sampled_from([5, 15, 20, 30, 45, 60, 90]))),
        buffer=timedelta(minutes=draw(st.sampled_from([0, 0, 5, 10, 15, 30]))),
        minimum_notice=timedelta(minutes=draw(st.sampled_from([0, 0, 60, 240, 1440]))),
        step=draw(
            st.sampled_from([None, None, 5, 10, 15, 30]).map(
                lambda minutes: None if minutes is None else timedelta(minutes=minutes)
            )
        ),
    )
    focus_midnight = datetime.combine(focus_day - timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    window_start = focus_midnight + timedelta(minutes=draw(st.integers(-24 * 60, 24 * 60)))
    window_minutes = draw(st.sampled_from([0, 24, 48, 72, 84])) * 60 + draw(st.integers(0, 12 * 60))
    window_end = window_start + timedelta(minutes=window_minutes)
    now = window_start + timedelta(minutes=draw(st.integers(-2 * 24 * 60, 24 * 60)))
    busy = []
    for _ in range(draw(st.integers(0, 15))):
        start = window_start + timedelta(minutes=draw(st.integers(-24 * 60, 5 * 24 * 60)))
        length = timedelta(minutes=draw(st.integers(0, 3 * 60)))
        busy.append(BusyInterval(start, start + length))
    return Scenario(rules, window_start, window_end, busy, now)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def reference_local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Brute force: the first instant whose wall time is `local`, else the first one past it (a gap)."""
    offsets = {zone.utcoffset(local + timedelta(hours=hours)) for hours in range(-30, 31)}
    candidates = [(local - offset).replace(tzinfo=UTC) for offset in offsets if offset is not None]
    exact = [instant for instant in candidates if _wall(instant, zone) == local]
    if exact:
        return min(exact)
    instant = min(candidates)
    while _wall(instant, zone) < local:
        instant += MINUTE
    return instant


def reference_spans(scenario: Scenario) -> list[tuple[datetime, datetime]]:
    rules = scenario.rules
    zone = rules.timezone
    day = scenario.window_start.astimezone(zone).date() - timedelta(days=1)
    spans = []
    while day <= scenario.window_end.astimezone(zone).date() + timedelta(days=1):
        for hours in rules.weekly_hours:
            if hours.weekday == day.isoweekday():
                local_start, local_end = hours.local_bounds(day)
                spans.append((reference_local_to_utc(local_start, zone), reference_local_to_utc(local_end, zone)))
        day += timedelta(days=1)
    return spans


def reference_slots(scenario: Scenario) -> list[Slot]:
    """Every candidate of every span, filtered one by one: O(candidates x busy)."""
    rules = scenario.rules
    step = max(rules.step or rules.duration, MINIMUM_STEP)
    found = set()
    for span_start, span_end in reference_spans(scenario):
        start = span_start
        while start + rules.duration <= span_end:
            end = start + rules.duration
            if (
                start >= scenario.window_start
                and end <= scenario.window_end
                and start >= scenario.now + rules.minimum_notice
                and not any(_blocks(busy, start, end, rules.buffer) for busy in scenario.busy)
            ):
                found.add(Slot(start, end))
            start += step
    return sorted(found)


def _blocks(busy: BusyInterval, start: datetime, end: datetime, buffer: timedelta) -> bool:
    return busy.start < end + buffer and busy.end > start - buffer


def _slots(scenario: Scenario) -> list[Slot]:
    return compute_slots(
        scenario.rules,
        window_start=scenario.window_start,
        window_end=scenario.window_end,
        busy=scenario.busy,
        now=scenario.now,
    )


@PROPERTY_SETTINGS
@given(scenarios())
def test_offered_slots_avoid_busy_time_and_respect_window_notice_order_and_hours(scenario: Scenario) -> None:
    # when
    slots = _slots(scenario)

    # then: no slot overlaps busy time widened by the buffer
    rules = scenario.rules
    for slot in slots:
        for busy in scenario.busy:
            assert not _blocks(busy, slot.start, slot.end, rules.buffer), (slot, busy)

    # then: inside the window, after now + notice, of the page's duration, in UTC, sorted and unique
    for slot in slots:
        assert scenario.window_start <= slot.start and slot.end <= scenario.window_end
        assert slot.start >= scenario.now + rules.minimum_notice
        assert slot.end - slot.start == rules.duration
        assert slot.start.utcoffset() == timedelta(0)
    assert all(earlier.start < later.start for earlier, later in zip(slots, slots[1:]))

    # then: within the weekly hours of the local day, against brute-force UTC spans, and by plain
    # wall-clock comparison on days whose offset does not change
    spans = reference_spans(scenario)
    zone = rules.timezone
    for slot in slots:
        assert any(start <= slot.start and slot.end <= end for start, end in spans), slot
        local_start, local_end = _wall(slot.start, zone), _wall(slot.end, zone)
        day = local_start.date()
        midnight = datetime.combine(day, time(0))
        if len({zone.utcoffset(midnight + timedelta(hours=hour)) for hour in range(-2, 27)}) == 1:
            assert any(
                hours.weekday == day.isoweekday()
                and hours.local_bounds(day)[0] <= local_start
                and local_end <= hours.local_bounds(day)[1]
                for hours in rules.weekly_hours
            ), (slot, local_start, local_end)


@PROPERTY_SETTINGS
@given(scenarios())
def test_compute_slots_equals_the_brute_force_reference(scenario: Scenario) -> None:
    # when
    slots = _slots(scenario)

    # then
    assert slots == reference_slots(scenario)


@PROPERTY_SETTINGS
@given(scenarios(), st.lists(st.integers(0, 4 * 24 * 12), max_size=8))
def test_is_slot_offered_agrees_with_compute_slots(scenario: Scenario, probes: list[int]) -> None:
    # given: every offered start, its neighbours, and arbitrary 5-minute instants near the window
    rules = scenario.rules
    wide_start = scenario.window_start - timedelta(days=2)
    wide_end = scenario.window_end + timedelta(days=5)
    offered = {
        slot.start
        for slot in compute_slots(
            rules, window_start=wide_start, window_end=wide_end, busy=scenario.busy, now=scenario.now
        )
    }
    in_window = [slot.start for slot in _slots(scenario)]
    instants = set(in_window)
    instants |= {start + delta for start in in_window[:5] for delta in (-MINUTE, MINUTE, rules.duration)}
    instants |= {scenario.window_start - timedelta(days=1) + timedelta(minutes=5 * p) for p in probes}

    # when / then
    for instant in instants:
        expected = instant in offered
        assert is_slot_offered(rules, instant, busy=scenario.busy, now=scenario.now) is expected, instant
