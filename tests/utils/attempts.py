"""Booking attempts as the bookingAttempts subscription delivers them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# FakeClock: Tuesday 2026-12-01 08:00 UTC; Wednesday 09:00 UTC is 10:00 in Berlin.
SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)

ATTEMPTS = "subscription { bookingAttempts { outcome pageSlug contactEmail start occurredAt } }"


def summary(data: dict[str, Any]) -> tuple[str, str, str, datetime]:
    attempt = data["bookingAttempts"]
    return attempt["outcome"], attempt["pageSlug"], attempt["contactEmail"], datetime.fromisoformat(attempt["start"])
