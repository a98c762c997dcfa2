"""Two-way sync: calendar changes flowing into meetings (the two-way helper's module; this branch carries only its
seam, which the sync engine calls inside every store transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Calendar, CalendarConnection
from providers.base import SyncedEvent

if TYPE_CHECKING:
    from meetgraph.services import Services


async def apply_calendar_changes(
    session: AsyncSession,
    services: Services,
    calendar: Calendar,
    connection: CalendarConnection,
    changed: Sequence[SyncedEvent],
    removed: Sequence[str],
    *,
    now: datetime,
) -> bool:
    """Bring meetings in line with the calendar's changed and removed events, in the caller's transaction; True
    when a meeting changed. Without two-way sync on this branch, no meeting follows the calendar."""
    return False
