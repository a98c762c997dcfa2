"""Input formats (emails, slugs, host names, time zones, ids, ranges); each failure names the offending field."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sized
from datetime import UTC, datetime

from scheduling import slots
from scheduling.errors import InvalidInput

EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
MAX_SLUG = 200
"""The stored column's length: each part (prefix, name) is 1-100 characters, the whole at most 200."""
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?(?:/[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?)?$")
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Dates taken as input lie in [EARLIEST, LATEST): far enough from datetime's limits (years 1 and 9999)
that adding a duration, a buffer or a time zone never overflows."""
HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def text(value: str, field: str, *, max_length: int, required: bool = True) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(cleaned) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters", field=field)
    return cleaned


def email(value: str, field: str = "email") -> str:
    cleaned = value.strip().lower()
    if len(cleaned) > 254 or not EMAIL.match(cleaned):
        raise InvalidInput(f"{field} is not a valid email address", field=field)
    return cleaned


def timezone(value: str, field: str = "timezone") -> str:
    """`value` when it is an IANA zone key (the rule is slots.validate_timezone)."""
    try:
        slots.validate_timezone(value)
    except ValueError:
        raise InvalidInput(f"{field} is not a known IANA time zone", field=field) from None
    return value


def slug(value: str, field: str = "slug") -> str:
    cleaned = value.strip().lower()
    if len(cleaned) > MAX_SLUG or not SLUG.match(cleaned):
        raise InvalidInput(
            f"{field} may use a-z, 0-9 and '-' (one '/' after a prefix), 1-{MAX_SLUG} characters",
            field=field,
        )
    return cleaned


def hostname(value: str, field: str = "hostname") -> str:
    cleaned = value.strip().lower().rstrip(".")
    if not HOSTNAME.match(cleaned):
        raise InvalidInput(f"{field} is not a valid host name", field=field)
    return cleaned


def instant(value: datetime, field: str) -> datetime:
    """`value` in UTC; it needs a UTC offset and must lie in the sane window [EARLIEST, LATEST)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} needs a UTC offset, e.g. 2026-12-07T09:00:00Z", field=field)
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise InvalidInput(
            f"{field} must lie between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()} (UTC)",
            field=field,
        )
    return moment


def at_most(values: Sized, field: str, *, max_items: int) -> None:
    """Every list input has a documented maximum (no query grows with the input beyond it)."""
    if len(values) > max_items:
        raise InvalidInput(f"{field} may hold at most {max_items} items", field=field)


def int_range(value: int, field: str, *, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}", field=field)
    return value


def input_id(value: str, field: str) -> uuid.UUID:
    """An id given as input (not the object the operation acts on, which is simply not found)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field} is not a valid id", field=field) from None
