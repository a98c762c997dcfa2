"""Calendar sync: keeps the event store (db.models.CalendarEvent) current for every primary and availability
calendar, by push (Google watch channels, Graph subscriptions) where the provider and deployment allow, by
polling otherwise and as a safety net. Every piece of work is a durable job (meetgraph.jobs)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from meetgraph import jobs

if TYPE_CHECKING:
    from meetgraph.services import Services

SYNC_CALENDAR = "calendar.sync"
"""Bring one calendar's store up to date (payload: calendar_id; full: bool)."""


async def enqueue_sync(session: AsyncSession, calendar_id: uuid.UUID, *, now: datetime, full: bool = False) -> None:
    """Add a sync of the calendar to the caller's transaction (coalesced with one already waiting)."""
    await jobs.enqueue(session, SYNC_CALENDAR, {"calendar_id": str(calendar_id), "full": full}, now=now)


async def request_sync(services: Services, calendar_ids: Sequence[uuid.UUID], *, full: bool = False) -> None:
    """Enqueue syncs of the calendars in a transaction of their own, and wake the workers."""
    if not calendar_ids:
        return
    async with services.sessionmaker() as session:
        for calendar_id in calendar_ids:
            await enqueue_sync(session, calendar_id, now=services.clock(), full=full)
        await session.commit()
    services.jobs.kick()
