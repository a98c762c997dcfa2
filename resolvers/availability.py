"""Busy time of a user (providers + database) and the free slots of their pages."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from graphql import GraphQLError
from sqlalchemy import type_coerce, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import NullType
from sqlmodel import col, select

from db.models import (
    Calendar,
    CalendarConnection,
    CalendarEvent,
    ConnectionStatus,
    Meeting,
    SchedulingPage,
    SyncMode,
)
from meetgraph import sync
from meetgraph.context import Context
from meetgraph.providers import provider_for
from meetgraph.services import Services
from providers.base import CalendarAccessLost, ProviderAuthError, ProviderError
from resolvers.pages import page_state, slot_rules
from scheduling import slots, sync_rules, validation
from scheduling.booking_rules import LIVE_STATUSES
from scheduling.errors import InvalidInput
from scheduling.slots import BusyInterval

log = logging.getLogger("meetgraph.availability")

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


@dataclass(frozen=True)
class _LiveRead:
    """One provider read of some of a connection's calendars, as every caller sharing it sees it."""

    intervals: tuple[BusyInterval, ...]
    lost: frozenset[str] | None
    """Provider ids of the calendars found lost; None when the grant itself was refused (all of them)."""


async def _read_live(
    services: Services,
    connection: CalendarConnection,
    primary: str | None,
    ids: list[str],
    start: datetime,
    end: datetime,
) -> _LiveRead:
    try:
        async with provider_for(connection, services, primary) as provider:
            result = await provider.get_busy(ids, start, end)
    except CalendarAccessLost as lost:
        return _LiveRead((), frozenset(lost.calendar_ids))
    except ProviderAuthError:
        return _LiveRead((), None)
    return _LiveRead(tuple(result.all()), frozenset())


async def _connection_busy(
    services: Services,
    connection: CalendarConnection,
    calendars: list[Calendar],
    read: list[Calendar],
    window: tuple[datetime, datetime],
    *,
    shared: bool,
    arrived: float,
) -> tuple[list[BusyInterval], list[Calendar]]:
    """Busy intervals of the connection's calendars in `read` (read live), and the calendars found lost: those
    of them the provider refused, or every calendar of the connection when its grant was revoked or it is
    inactive. With `shared`, concurrent reads of the same calendars and window make one provider fetch, and a
    read that landed after the caller `arrived` (time.monotonic()) answers it too."""
    if connection.status is ConnectionStatus.INACTIVE:
        return [], calendars
    start, end = window
    by_provider_id = {c.provider_calendar_id: c for c in read}
    ids = sorted(by_provider_id)
    primary = next((c.provider_calendar_id for c in calendars if c.is_primary), None)

    def fetch() -> Awaitable[_LiveRead]:
        return _read_live(services, connection, primary, ids, start, end)

    if shared:
        key = ("busy", connection.id, primary, tuple(ids), start, end)
        found = await services.live_reads.run(key, fetch, arrived=arrived)
    else:
        found = await fetch()
    if found.lost is None:
        return [], calendars  # the grant was revoked: every calendar of the connection is lost
    return list(found.intervals), [by_provider_id[i] for i in found.lost if i in by_provider_id]


def _answers_from_store(services: Services, calendar: Calendar, now: datetime, start: datetime, end: datetime) -> bool:
    """Whether the event store may answer for the calendar in [start, end): active, fresh, and spanning it."""
    settings = services.settings
    return (
        calendar.status is ConnectionStatus.ACTIVE
        and sync_rules.is_fresh(
            calendar.sync_mode.value,
            calendar.synced_at,
            now=now,
            poll_seconds=settings.sync_poll_seconds,
            safety_net_seconds=settings.sync_safety_net_seconds,
        )
        and sync_rules.covers(calendar.sync_window_start, calendar.sync_window_end, start, end)
    )


def stored_version(calendar: Calendar) -> tuple[object, ...]:
    """What a store read of the calendar depends on: the sync engine changes synced_at or the cursor in the
    transaction that changes the calendar's events (every sync ends by setting them), and the span."""
    return (calendar.id, calendar.synced_at, calendar.sync_cursor, calendar.sync_window_start, calendar.sync_window_end)


def _stored_read_key(calendar: Calendar, start: datetime, end: datetime) -> Hashable:
    return (*stored_version(calendar), start, end)


def carry_stored_reads(services: Services, before: tuple[object, ...], after: tuple[object, ...]) -> int:
    """After a sync that changed none of a calendar's stored events, the reads of its events kept for its
    previous version (`before`, a stored_version) hold for the new one (`after`): keep them under it too, so
    the first view after a sync with nothing new does not read the calendar's events again (in this process)."""
    size = len(before)

    def rename(key: Hashable) -> Hashable | None:
        if isinstance(key, tuple) and key[:size] == before:
            return (*after, *key[size:])
        return None

    return services.stored_reads.carry(rename)


def _stored_instant(value: object) -> datetime:
    """A stored UTC timestamp as the driver gave it (SQLite: text without an offset; PostgreSQL: aware)."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(instant, datetime)
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


async def stored_busy(
    services: Services, calendars: Sequence[Calendar], start: datetime, end: datetime
) -> list[BusyInterval]:
    """Busy time of the calendars from the event store: one query (calendar, start index) for those whose
    current version was not read for this window before in this process."""
    found: list[BusyInterval] = []
    unread: dict[uuid.UUID, Hashable] = {}
    for calendar in calendars:
        key = _stored_read_key(calendar, start, end)
        kept: tuple[BusyInterval, ...] | None = services.stored_reads.get(key)
        if kept is None:
            unread[calendar.id] = key
        else:
            found.extend(kept)
    if not unread:
        return found
    # the rows come raw (no per-row type processing: UUIDs and SQLite's datetime strings built by SQLAlchemy cost
    # twice the whole read for 3,000 events) and are converted here with the C parsers
    async with services.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    type_coerce(CalendarEvent.calendar_id, NullType()),
                    type_coerce(CalendarEvent.start, NullType()),
                    type_coerce(CalendarEvent.end, NullType()),
                ).where(
                    col(CalendarEvent.calendar_id).in_(list(unread)),
                    col(CalendarEvent.start) < end,
                    col(CalendarEvent.end) > start,
                    col(CalendarEvent.blocks),
                )
            )
        ).all()
    by_calendar: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {calendar_id: [] for calendar_id in unread}
    by_raw_id: dict[object, list[tuple[datetime, datetime]]] = {}
    for calendar_id, spans in by_calendar.items():
        by_raw_id[calendar_id.hex] = by_raw_id[calendar_id] = spans
    for raw_id, event_start, event_end in rows:
        found_spans = by_raw_id.get(raw_id)
        if found_spans is None:
            found_spans = by_calendar[uuid.UUID(str(raw_id))]
        found_spans.append((_stored_instant(event_start), _stored_instant(event_end)))
    for calendar_id, spans in by_calendar.items():
        intervals = sync_rules.busy_of(spans)
        services.stored_reads.put(unread[calendar_id], tuple(intervals))
        found.extend(intervals)
    return found


async def _request_first_syncs(services: Services, calendar_ids: list[uuid.UUID], now: datetime) -> None:
    """Ask the sync engine for the first sync of calendars read live because never synced: once per calendar
    per poll interval in this process (not once per page view). A failed request is retried by a later view."""
    interval = timedelta(seconds=services.settings.sync_poll_seconds)
    due = [c for c in calendar_ids if services.sync_requests.allow(c, now, interval)]
    if not due:
        return
    try:
        await sync.request_sync(services, due)
    except SQLAlchemyError:
        for calendar_id in due:
            services.sync_requests.forget(calendar_id)
        log.warning("could not request the first sync of calendars %s", due, exc_info=True)


async def owner_busy(
    services: Services,
    owner_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    live: bool = False,
    arrived: float | None = None,
) -> Busy:
    """Busy time of the primary and every availability calendar, plus live meetings in the database.

    Fresh calendars (synced recently enough, over a span that covers the window) answer from the event store in
    one query; the others are read from their providers (each connection's concurrently, concurrent reads of the
    same calendars shared: a live read that landed after the caller `arrived`, time.monotonic() when its request
    began, by default now, answers it too). `live` reads every calendar from its provider, unshared: booking
    re-checks the slot against the provider itself. Calendars found lost are marked inactive; ones readable again,
    active."""
    arrived = time.monotonic() if arrived is None else arrived
    groups = await _checked_calendars(services, owner_id)
    now = services.clock()
    busy = Busy()
    from_store: list[Calendar] = []
    never_synced: list[uuid.UUID] = []
    reads: list[tuple[CalendarConnection, list[Calendar], list[Calendar]]] = []
    for connection, calendars in groups:
        primary = next((c for c in calendars if c.is_primary), None)
        if primary is not None and busy.primary is None:
            busy.primary = (connection, primary)
        read = calendars
        if not live and connection.status is ConnectionStatus.ACTIVE:
            stored = [c for c in calendars if _answers_from_store(services, c, now, start, end)]
            from_store.extend(stored)
            stored_ids = {c.id for c in stored}
            read = [c for c in calendars if c.id not in stored_ids]
            never_synced.extend(c.id for c in read if c.sync_mode is SyncMode.LIVE and c.synced_at is None)
        if read:
            reads.append((connection, calendars, read))
    # the store and the database's live meetings do not depend on the providers: read them while those answer
    results, stored_intervals, meetings, _ = await asyncio.gather(
        asyncio.gather(
            *(
                _connection_busy(services, connection, calendars, read, (start, end), shared=not live, arrived=arrived)
                for connection, calendars, read in reads
            )
        ),
        stored_busy(services, from_store, start, end),
        meeting_busy(services, owner_id, start, end),
        _request_first_syncs(services, never_synced, now),
    )
    for intervals, lost in results:
        busy.intervals.extend(intervals)
        busy.lost.extend(lost)
    lost_ids = {c.id for c in busy.lost}
    back = [
        c.id for _, _, read in reads for c in read if c.status is ConnectionStatus.INACTIVE and c.id not in lost_ids
    ]
    newly_lost = [c.id for c in busy.lost if c.status is ConnectionStatus.ACTIVE]
    await _set_status(services, newly_lost, ConnectionStatus.INACTIVE)
    await _set_status(services, back, ConnectionStatus.ACTIVE)
    busy.intervals.extend(stored_intervals)
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
            busy = await owner_busy(ctx.services, page.user_id, fetch_start, fetch_end, arrived=ctx.arrived)
        except ProviderError as exc:
            raise ProvidersUnavailable(f"calendar provider unavailable: {exc.message}") from exc
        if busy.lost:
            return []
        intervals = busy.intervals
    return slots.compute_slots(rules, window_start=start, window_end=end, busy=intervals, now=ctx.now())
