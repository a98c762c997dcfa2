from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """An injected clock: tests set and advance time instead of waiting."""

    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)

    def set(self, when: datetime) -> None:
        self.current = when
