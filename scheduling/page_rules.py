"""Scheduling pages (SPEC "Scheduling page", "Meeting URL prefix", "Meeting domain").

- A page has a name, a slug, a duration, a time zone, weekly hours, a buffer and a minimum notice.
- Its URL is `<domain>/meetings/<slug>`; slugs are unique across all domains.
- Without an explicit slug, the slug comes from the meeting URL prefix (future pages only) and the name,
  made unique with -2, -3, ...
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from scheduling import slots, validation
from scheduling.errors import InvalidInput

MAX_DURATION = 12 * 60
MAX_BUFFER = 24 * 60
MAX_NOTICE = 60 * 24 * 60
DEFAULT_DURATION = 30
MAX_SLUGIFIED = 80
"""A slug made from a name is cut to this length (before its edge '-' are stripped)."""


@dataclass(frozen=True)
class PageInput:
    name: str
    slug: str | None = None
    duration_minutes: int | None = DEFAULT_DURATION
    timezone: str | None = None
    weekly_hours: list[tuple[int, str, str]] | None = None
    buffer_minutes: int | None = 0
    minimum_notice_minutes: int | None = 0


@dataclass(frozen=True)
class PageFields:
    """A page's validated settings, as stored."""

    name: str
    duration_minutes: int
    timezone: str
    weekly_hours: list[dict[str, Any]]
    buffer_minutes: int
    minimum_notice_minutes: int


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text)[:MAX_SLUGIFIED].strip("-") or "meeting"


def stored_hours(hours: list[slots.WeeklyHours]) -> list[dict[str, Any]]:
    return [dict(zip(("weekday", "start", "end"), slots.format_weekly_hours(h))) for h in hours]


def page_fields(data: PageInput, *, default_timezone: str, current_hours: list[dict[str, Any]]) -> PageFields:
    """Validate the input; omitted weekly hours keep `current_hours` (Monday-Friday 9-17 for a new page)."""
    name = validation.text(data.name, "name", max_length=200)
    duration = validation.int_range(
        data.duration_minutes if data.duration_minutes is not None else DEFAULT_DURATION,
        "durationMinutes",
        low=5,
        high=MAX_DURATION,
    )
    timezone = validation.timezone(data.timezone or default_timezone)
    if data.weekly_hours is not None:
        try:
            weekly_hours = stored_hours(slots.parse_weekly_hours(data.weekly_hours))
        except slots.WeeklyHoursError as exc:
            raise InvalidInput(exc.message, field=exc.field) from None
    elif current_hours:
        weekly_hours = current_hours
    else:
        weekly_hours = stored_hours(list(slots.DEFAULT_WEEKLY_HOURS))
    return PageFields(
        name=name,
        duration_minutes=duration,
        timezone=timezone,
        weekly_hours=weekly_hours,
        buffer_minutes=validation.int_range(data.buffer_minutes or 0, "bufferMinutes", low=0, high=MAX_BUFFER),
        minimum_notice_minutes=validation.int_range(
            data.minimum_notice_minutes or 0, "minimumNoticeMinutes", low=0, high=MAX_NOTICE
        ),
    )


def slug_base(prefix: str | None, name: str) -> str:
    """The default slug before de-duplication: `<prefix>/<name>` or `<name>`."""
    return f"{prefix}/{slugify(name)}" if prefix else slugify(name)


def unique_slug(base: str, taken: Collection[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is not taken."""
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def slug_taken_message(slug: str) -> str:
    return f"/meetings/{slug} is taken"
