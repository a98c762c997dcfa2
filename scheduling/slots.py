"""Pure computation of a scheduling page's bookable slots (no I/O, no clock, no database).

Weekly hours are wall-clock intervals in the page's time zone. Each interval on each local date is
turned into an absolute UTC span (DST-correct), candidate starts are laid out from the span's start
every `step` of real elapsed time, and candidates are removed when they overlap busy time widened by
the buffer, start earlier than now + minimum notice, or fall outside the requested window.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_WEEKLY_HOURS",
    "BusyInterval",
    "END_OF_DAY",
    "MAX_WEEKLY_HOURS",
    "MINIMUM_STEP",
    "Slot",
    "SlotRules",
    "WeeklyHours",
    "WeeklyHoursError",
    "busy_window_for",
    "compute_slots",
    "format_weekly_hours",
    "is_slot_offered",
    "local_to_utc",
    "parse_weekly_hours",
    "validate_timezone",
]

END_OF_DAY = time.max
"""The `end` of an interval that runs until midnight ("24:00")."""

MINIMUM_STEP = timedelta(minutes=5)

MAX_WEEKLY_HOURS = 100
"""The most intervals a page's weekly hours may hold (about 14 a day)."""

MAX_TIMEZONE_LENGTH = 64
"""Longer than any IANA zone key."""

_UTC = UTC
_HH_MM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_MIDNIGHT_END = "24:00"


@dataclass(frozen=True)
class BusyInterval:
    """A busy span, as timezone-aware UTC datetimes, half-open [start, end); what providers return."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class WeeklyHours:
    """One availability interval in the page's local wall-clock time; `end` is END_OF_DAY for "24:00"."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 1 <= self.weekday <= 7:
            raise ValueError(f"weekday must be 1 (Monday) .. 7 (Sunday), got {self.weekday}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("weekly hours are wall-clock times and must not carry a tzinfo")
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")

    @property
    def ends_at_midnight(self) -> bool:
        return self.end == END_OF_DAY

    def local_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The naive local start and end of this interval on `day` (end may be the next midnight)."""
        start = datetime.combine(day, self.start)
        if self.ends_at_midnight:
            return start, datetime.combine(day + timedelta(days=1), time(0))
        return start, datetime.combine(day, self.end)


class WeeklyHoursError(ValueError):
    """Invalid weekly hours; `field` is the input path, e.g. "weeklyHours[2].start"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _parse_wall_time(value: object, *, field: str, allow_end_of_day: bool) -> time:
    if not isinstance(value, str):
        raise WeeklyHoursError(field, "must be a string in HH:MM format")
    if allow_end_of_day and value == _MIDNIGHT_END:
        return END_OF_DAY
    if not _HH_MM.fullmatch(value):
        allowed = "00:00..24:00" if allow_end_of_day else "00:00..23:59"
        raise WeeklyHoursError(field, f"must be HH:MM in {allowed}, got {value!r}")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def parse_weekly_hours(
    items: Sequence[tuple[int, str, str]], *, field_prefix: str = "weeklyHours"
) -> list[WeeklyHours]:
    """Validate (weekday, "HH:MM", "HH:MM") triples into WeeklyHours sorted by weekday and start."""
    if len(items) > MAX_WEEKLY_HOURS:
        raise WeeklyHoursError(field_prefix, f"may hold at most {MAX_WEEKLY_HOURS} intervals")
    parsed: list[tuple[WeeklyHours, int]] = []
    for index, item in enumerate(items):
        path = f"{field_prefix}[{index}]"
        weekday, start_text, end_text = item
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
            raise WeeklyHoursError(f"{path}.weekday", f"must be 1 (Monday) .. 7 (Sunday), got {weekday!r}")
        start = _parse_wall_time(start_text, field=f"{path}.start", allow_end_of_day=False)
        end = _parse_wall_time(end_text, field=f"{path}.end", allow_end_of_day=True)
        if end <= start:
            raise WeeklyHoursError(f"{path}.end", f"must be after start {start_text}, got {end_text}")
        parsed.append((WeeklyHours(weekday, start, end), index))

    parsed.sort(key=lambda pair: (pair[0].weekday, pair[0].start, pair[0].end))
    for (previous, previous_index), (current, current_index) in zip(parsed, parsed[1:]):
        if current.weekday == previous.weekday and current.start < previous.end:
            raise WeeklyHoursError(
                f"{field_prefix}[{current_index}].start",
                f"overlaps {field_prefix}[{previous_index}] on weekday {current.weekday}",
            )
    return [hours for hours, _ in parsed]


def format_weekly_hours(hours: WeeklyHours) -> tuple[int, str, str]:
    """The inverse of parse_weekly_hours for one interval: (weekday, "HH:MM", "HH:MM" or "24:00")."""
    end = _MIDNIGHT_END if hours.ends_at_midnight else hours.end.strftime("%H:%M")
    return hours.weekday, hours.start.strftime("%H:%M"), end


DEFAULT_WEEKLY_HOURS: tuple[WeeklyHours, ...] = tuple(
    WeeklyHours(weekday, time(9), time(17)) for weekday in range(1, 6)
)


def validate_timezone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; ValueError when it is not a known zone key (directories included)."""
    if not isinstance(name, str) or not name or len(name) > MAX_TIMEZONE_LENGTH or name != name.strip():
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


@dataclass(frozen=True, order=True)
class Slot:
    """A bookable half-open span [start, end) as timezone-aware UTC datetimes."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class SlotRules:
    """Everything about a page that decides its slots, apart from busy time, the window and the clock."""

    weekly_hours: Sequence[WeeklyHours]
    timezone: ZoneInfo
    duration: timedelta
    buffer: timedelta = timedelta(0)
    minimum_notice: timedelta = timedelta(0)
    step: timedelta | None = None
    _hours_by_weekday: tuple[tuple[WeeklyHours, ...], ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, tzinfo):
            raise ValueError("timezone must be a ZoneInfo")
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        if self.buffer < timedelta(0):
            raise ValueError("buffer must not be negative")
        if self.minimum_notice < timedelta(0):
            raise ValueError("minimum_notice must not be negative")
        if self.step is not None and self.step <= timedelta(0):
            raise ValueError("step must be positive")
        hours = tuple(self.weekly_hours)
        by_weekday = tuple(
            tuple(sorted((h for h in hours if h.weekday == weekday), key=lambda h: (h.start, h.end)))
            for weekday in range(8)
        )
        object.__setattr__(self, "weekly_hours", hours)
        object.__setattr__(self, "_hours_by_weekday", by_weekday)

    @property
    def effective_step(self) -> timedelta:
        """Spacing of candidate starts: `step`, or the duration, never below MINIMUM_STEP."""
        return max(self.step if self.step is not None else self.duration, MINIMUM_STEP)

    def hours_on(self, weekday: int) -> tuple[WeeklyHours, ...]:
        return self._hours_by_weekday[weekday] if 1 <= weekday <= 7 else ()


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(_UTC)


def local_to_utc(local: datetime, zone: tzinfo) -> datetime:
    """The UTC instant of naive wall time `local` in `zone`.

    Ambiguous wall times (fall-back overlap) use the first occurrence; nonexistent ones
    (spring-forward gap) map to the instant the gap ends.
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(_UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first
    return _end_of_gap(local, zone)


def _end_of_gap(local: datetime, zone: tzinfo) -> datetime:
    """The transition instant of the gap containing `local` (binary search in whole seconds)."""
    before = local.replace(tzinfo=zone, fold=1).astimezone(_UTC)  # post-transition offset: before the jump
    after = local.replace(tzinfo=zone, fold=0).astimezone(_UTC)  # pre-transition offset: after the jump
    if after <= before:
        before, after = after, before
    offset_after = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while low < high:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle + 1
    return before + timedelta(seconds=low)


def _widen(interval: BusyInterval, buffer: timedelta) -> tuple[datetime, datetime]:
    start = _require_aware(interval.start, "busy start")
    end = _require_aware(interval.end, "busy end")
    if end < start:
        raise ValueError(f"busy interval ends before it starts: {start} .. {end}")
    return start - buffer, end + buffer


class _Blocked:
    """Busy time widened by the buffer, merged into sorted disjoint spans for bisecting."""

    def __init__(self, busy: Iterable[BusyInterval], buffer: timedelta) -> None:
        widened = sorted(_widen(interval, buffer) for interval in busy)
        starts: list[datetime] = []
        ends: list[datetime] = []
        for start, end in widened:
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        self._starts = starts
        self._ends = ends

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether [start, end) meets any widened busy span [b0, b1], i.e. b0 < end and b1 > start."""
        index = bisect.bisect_right(self._ends, start)
        return index < len(self._starts) and self._starts[index] < end


def _spans(rules: SlotRules, window_start: datetime, window_end: datetime) -> list[tuple[datetime, datetime]]:
    """Absolute UTC spans of the weekly hours on every local date that can touch the window."""
    zone = rules.timezone
    first_day = window_start.astimezone(zone).date() - timedelta(days=1)
    last_day = window_end.astimezone(zone).date() + timedelta(days=1)
    spans: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        for hours in rules.hours_on(day.isoweekday()):
            local_start, local_end = hours.local_bounds(day)
            start, end = local_to_utc(local_start, zone), local_to_utc(local_end, zone)
            if start < end and start < window_end and end > window_start:
                spans.append((start, end))
        day += timedelta(days=1)
    return spans


def _ceil_steps(distance: timedelta, step: timedelta) -> int:
    if distance <= timedelta(0):
        return 0
    return -(-distance // step)


def _compute(
    rules: SlotRules, window_start: datetime, window_end: datetime, blocked: _Blocked, now: datetime
) -> list[Slot]:
    step, duration = rules.effective_step, rules.duration
    earliest = max(window_start, now + rules.minimum_notice)
    found: set[tuple[datetime, datetime]] = set()
    for span_start, span_end in _spans(rules, window_start, window_end):
        last_end = min(span_end, window_end)
        candidate = span_start + step * _ceil_steps(earliest - span_start, step)
        while candidate + duration <= last_end:
            end = candidate + duration
            if not blocked.overlaps(candidate, end):
                found.add((candidate, end))
            candidate += step
    return [Slot(start, end) for start, end in sorted(found)]


def compute_slots(
    rules: SlotRules,
    *,
    window_start: datetime,
    window_end: datetime,
    busy: Iterable[BusyInterval],
    now: datetime,
) -> list[Slot]:
    """Offered slots with start >= window_start and end <= window_end, sorted and unique."""
    window_start = _require_aware(window_start, "window_start")
    window_end = _require_aware(window_end, "window_end")
    now = _require_aware(now, "now")
    if window_end < window_start:
        raise ValueError("window_end must not be before window_start")
    return _compute(rules, window_start, window_end, _Blocked(busy, rules.buffer), now)


def is_slot_offered(rules: SlotRules, start: datetime, *, busy: Iterable[BusyInterval], now: datetime) -> bool:
    """Whether compute_slots offers a slot starting exactly at `start` (the booking-time re-check)."""
    start = _require_aware(start, "start")
    now = _require_aware(now, "now")
    slots = _compute(rules, start, start + rules.duration, _Blocked(busy, rules.buffer), now)
    return any(slot.start == start for slot in slots)


def busy_window_for(rules: SlotRules, window_start: datetime, window_end: datetime) -> tuple[datetime, datetime]:
    """The UTC span of busy time to fetch from providers to decide the slots of this window."""
    window_start = _require_aware(window_start, "window_start")
    window_end = _require_aware(window_end, "window_end")
    margin = rules.buffer + rules.duration
    return window_start - margin, window_end + margin
