"""Busy time of a user (providers + database) and the free slots of their pages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from graphql import GraphQLError
from sqlalchemy import update
from sqlmodel import col, select

from db.models import Calendar, CalendarConnection, ConnectionStatus, Meeting, SchedulingPage
from meetgraph.context import Context
from meetgraph.providers import provider_for
from meetgraph.services import Services
from providers.base import CalendarAccessLost, ProviderAuthError, ProviderError
from resolvers.pages import page_state, slot_rules
from scheduling import slots, validation
from scheduling.booking_rules import LIVE_STATUSES
from scheduling.errors import InvalidInput
from scheduling.slots import BusyInterval

MAX_WINDOW = timedelta(days=62)


class BadWindow(GraphQLError):
    def __init__(self, message: str, argument: str | None = None) -> None:
        extensions: dict[str, object] = {"code": "BAD_USER_INPUT"}
        if argument is not None:
            extensions["argument"] = argument
        super().__init__(message, extensions=extensions)


class ProvidersUnavailable(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "PROVIDER_UNAVAILABLE"})


@dataclass
class Busy:
    intervals: list[BusyInterval] = field(default_factory=list)
    lost: list[Calendar] = field(default_factory=list)
    """Calendars whose access is lost: while any is, nobody can book."""
    primary: tuple[CalendarConnection, Calendar] | None = None
    """Where bookings are written."""


async def _checked_calendars(
    services: Services, owner_id: uuid.UUID
) -> list[tuple[CalendarConnection, list[Calendar]]]:
    """Per connection: its primary calendar and every availability calendar (inactive ones included)."""
    async with services.sessionmaker() as session:
        rows = (
            await session.exec(
                select(CalendarConnection, Calendar)
                .join(Calendar, col(Calendar.connection_id) == CalendarConnection.id)
                .where(CalendarConnection.user_id == owner_id)
                .where(col(Calendar.is_primary) | col(Calendar.is_availability))
                .order_by(col(CalendarConnection.slot))
            )
        ).all()
    grouped: dict[uuid.UUID, tuple[CalendarConnection, list[Calendar]]] = {}
    for connection, calendar in rows:
        grouped.setdefault(connection.id, (connection, []))[1].append(calendar)
    return list(grouped.values())


async def _set_status(services: Services, calendar_ids: Sequence[uuid.UUID], status: ConnectionStatus) -> None:
    if not calendar_ids:
        return
    async with services.sessionmaker() as session:
        await session.exec(  # type: ignore[call-overload]
            update(Calendar).where(col(Calendar.id).in_(calendar_ids)).values(status=status)
        )
        await session.commit()


async def _connection_busy(
    services: Services, connection: CalendarConnection, calendars: list[Calendar], start: datetime, end: datetime
) -> tuple[list[BusyInterval], list[Calendar]]:
    """Busy intervals of one connection's calendars, and those of them whose access is lost."""
    if connection.status is ConnectionStatus.INACTIVE:
        return [], calendars
    by_provider_id = {c.provider_calendar_id: c for c in calendars}
    primary = next((c.provider_calendar_id for c in calendars if c.is_primary), None)
    try:
        async with provider_for(connection, services, primary) as provider:
            result = await provider.get_busy(list(by_provider_id), start, end)
    except CalendarAccessLost as lost:
        return [], [by_provider_id[i] for i in lost.calendar_ids if i in by_provider_id]
    except ProviderAuthError:
        return [], calendars  # the grant was revoked: every calendar of the connection is lost
    return result.all(), []


async def owner_busy(services: Services, owner_id: uuid.UUID, start: datetime, end: datetime) -> Busy:
    """Provider busy time of the primary and every availability calendar (fetched concurrently), plus live
    meetings in the database. Calendars found lost are marked inactive; ones readable again, active."""
    groups = await _checked_calendars(services, owner_id)
    busy = Busy()
    for connection, calendars in groups:
        primary = next((c for c in calendars if c.is_primary), None)
        if primary is not None and busy.primary is None:
            busy.primary = (connection, primary)
    # the database's live meetings do not depend on the providers: read them while the providers answer
    results, meetings = await asyncio.gather(
        asyncio.gather(
            *(_connection_busy(services, connection, calendars, start, end) for connection, calendars in groups)
        ),
        meeting_busy(services, owner_id, start, end),
    )
    for intervals, lost in results:
        busy.intervals.extend(intervals)
        busy.lost.extend(lost)
    lost_ids = {c.id for c in busy.lost}
    back = [
        c.id
        for _, calendars in groups
        for c in calendars
        if c.status is ConnectionStatus.INACTIVE and c.id not in lost_ids
    ]
    newly_lost = [c.id for c in busy.lost if c.status is ConnectionStatus.ACTIVE]
    await _set_status(services, newly_lost, ConnectionStatus.INACTIVE)
    await _set_status(services, back, ConnectionStatus.ACTIVE)
    busy.intervals.extend(meetings)
    return busy


async def meeting_busy(services: Services, owner_id: uuid.UUID, start: datetime, end: datetime) -> list[BusyInterval]:
    async with services.sessionmaker() as session:
        rows = (
            await session.exec(
                select(Meeting.start, Meeting.end).where(
                    Meeting.user_id == owner_id,
                    col(Meeting.status).in_(LIVE_STATUSES),
                    col(Meeting.start) < end,
                    col(Meeting.end) > start,
                )
            )
        ).all()
    return [BusyInterval(s, e) for s, e in rows]


def check_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window in UTC; BAD_USER_INPUT naming the argument unless it is a sane window of at most 62 days."""
    try:
        start, end = validation.instant(start, "start"), validation.instant(end, "end")
    except InvalidInput as exc:
        raise BadWindow(exc.message, argument=exc.field) from None
    if end <= start:
        raise BadWindow("end must be after start")
    if end - start > MAX_WINDOW:
        raise BadWindow("the window may span at most 62 days")
    return start, end


async def slots_for_page(ctx: Context, page: SchedulingPage, start: datetime, end: datetime) -> list[slots.Slot]:
    start, end = check_window(start, end)
    state = await page_state(ctx, page)
    if not state.active:
        return []
    rules = slot_rules(page)
    fetch_start, fetch_end = slots.busy_window_for(rules, start, end)
    if state.offline:
        intervals = await meeting_busy(ctx.services, page.user_id, fetch_start, fetch_end)
    else:
        try:
            busy = await owner_busy(ctx.services, page.user_id, fetch_start, fetch_end)
        except ProviderError as exc:
            raise ProvidersUnavailable(f"calendar provider unavailable: {exc.message}") from exc
        if busy.lost:
            return []
        intervals = busy.intervals
    return slots.compute_slots(rules, window_start=start, window_end=end, busy=intervals, now=ctx.now())
