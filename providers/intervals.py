"""Splitting requests to fit a provider's limits, and joining what comes back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from scheduling.slots import BusyInterval

T = TypeVar("T")


def time_windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of at most `size`."""
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        upper = min(cursor + size, end)
        windows.append((cursor, upper))
        cursor = upper
    return windows


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def merge_intervals(intervals: Sequence[BusyInterval]) -> list[BusyInterval]:
    """Sorted, with overlapping or touching spans joined (window chunks split events at their edges,
    and an event can come back from two windows)."""
    merged: list[BusyInterval] = []
    for interval in sorted(intervals, key=lambda i: (i.start, i.end)):
        if merged and interval.start <= merged[-1].end:
            last = merged.pop()
            interval = BusyInterval(last.start, max(last.end, interval.end))
        merged.append(interval)
    return merged
