"""When the event store can answer for a calendar, and what a full sync covers (pure rules, no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduling.slots import BusyInterval

PAGE_HORIZON = timedelta(days=62)
"""The longest window a page can be asked for (resolvers.availability.MAX_WINDOW)."""
LOOKBACK = timedelta(days=1)
"""A full sync starts this long before now: a window that starts just before now is still covered."""


def sync_window(now: datetime, days: int) -> tuple[datetime, datetime]:
    """The span a full sync stores: from a day before now to `days` days after, at least the page horizon."""
    return now - LOOKBACK, now + max(timedelta(days=days), PAGE_HORIZON + LOOKBACK)


def covers(window_start: datetime | None, window_end: datetime | None, start: datetime, end: datetime) -> bool:
    """Whether the stored span holds every event of [start, end)."""
    return window_start is not None and window_end is not None and window_start <= start and end <= window_end


def needs_new_window(window_start: datetime | None, window_end: datetime | None, now: datetime) -> bool:
    """A full sync is due when the stored span no longer reaches the page horizon (or starts after now)."""
    if window_start is None or window_end is None:
        return True
    return window_start > now or window_end < now + PAGE_HORIZON + LOOKBACK


def is_fresh(
    mode: str,
    synced_at: datetime | None,
    *,
    now: datetime,
    poll_seconds: float,
    safety_net_seconds: float,
) -> bool:
    """Whether the store is current enough to answer for the calendar instead of the provider.

    PUSH: notifications keep it current; the safety-net poll must not be overdue twice. POLL: synced within two
    poll intervals. LIVE (or never synced): never."""
    if synced_at is None or mode == "LIVE":
        return False
    age = (now - synced_at).total_seconds()
    if mode == "PUSH":
        return age <= 2 * safety_net_seconds
    return age <= 2 * poll_seconds


def busy_of(rows: list[tuple[datetime, datetime]]) -> list[BusyInterval]:
    """Stored blocking events as busy intervals."""
    return [BusyInterval(start, end) for start, end in rows if end > start]
