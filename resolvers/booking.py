"""bookMeeting: re-check the slot with the providers and the database, then take it exactly once, with
the attempt, the calendar write (or the owner's mail) and the idempotency key in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import begin_write
from db.models import CalendarSettings, Meeting, MeetingSource, SchedulingPage, SyncState
from meetgraph.availability_events import availability_changed
from meetgraph.context import Context
from meetgraph.failpoints import BOOKING_AFTER_COMMIT, BOOKING_BEFORE_COMMIT, failpoint
from meetgraph.services import Services
from providers.base import ProviderError
from resolvers import attempts, booking_keys, calendar_writes, notify
from resolvers.availability import meeting_busy, owner_busy
from resolvers.pages import page_state, slot_rules
from resolvers.public_pages import find_page
from scheduling import booking_rules, slots, validation
from scheduling.booking_rules import LIVE_STATUSES, BookingOutcome, Refusal
from scheduling.errors import NotFound, ProviderFailure, UserError


@dataclass(frozen=True)
class BookingRequest:
    slug: str
    domain: str | None
    start: datetime
    contact_email: str
    contact_name: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Attempt:
    """What every outcome of one booking attempt records, in the same transaction as what it records."""

    services: Services
    page: SchedulingPage
    contact_email: str
    start: datetime
    key: booking_keys.Key | None

    async def add(self, session: AsyncSession, outcome: BookingOutcome, message: str | None = None) -> uuid.UUID | None:
        """Store the attempt (and the job that publishes it) in the session's transaction."""
        return await attempts.record(
            session,
            self.services,
            user_id=self.page.user_id,
            page_id=self.page.id,
            page_slug=self.page.slug,
            contact_email=self.contact_email,
            start=self.start,
            outcome=outcome,
            message=message,
        )

    async def refuse(self, refusal: Refusal, blocked_calendars: list[str] | None = None) -> UserError:
        """Record the refused attempt (and its key, and the owner's mail when access is lost); returns the
        typed error to raise, or the first answer to this idempotency key if another request stored one."""
        services = self.services
        try:
            async with services.sessionmaker() as session:
                await begin_write(session)
                await self.add(session, refusal.outcome, refusal.record)
                if blocked_calendars is not None:
                    page = self.page
                    await notify.booking_blocked(
                        session, services, page.user_id, page.slug, self.start, self.contact_email, blocked_calendars
                    )
                if self.key is not None:
                    await booking_keys.add_error(session, self.key, refusal.error)
                await session.commit()
        except IntegrityError:
            if self.key is None:
                raise
            await booking_keys.replay(services, self.key)  # a concurrent request with this key answered first
            raise
        services.jobs.kick()
        return refusal.error

    async def record(self, outcome: BookingOutcome, message: str | None = None) -> None:
        async with self.services.sessionmaker() as session:
            await begin_write(session)
            await self.add(session, outcome, message)
            await session.commit()
        self.services.jobs.kick()


def _validated(request: BookingRequest) -> tuple[str, str, datetime]:
    email = validation.email(request.contact_email, "contactEmail")
    name = validation.text(request.contact_name, "contactName", max_length=200)
    return email, name, validation.instant(request.start, "start")


async def book(ctx: Context, request: BookingRequest) -> Meeting:
    """Book once; with an idempotency key, a repeat within 24 hours answers the first result instead."""
    email, name, start = _validated(request)
    key = None
    if request.idempotency_key is not None:
        key = booking_keys.Key.of(
            request.idempotency_key, request.slug, request.domain, start, email, name, now=ctx.now()
        )
    try:
        if key is not None:
            await booking_keys.replay(ctx.services, key)
        return await _book(ctx, request, email, name, start, key)
    except booking_keys.AlreadyAnswered as first:
        return first.meeting


async def _book(
    ctx: Context, request: BookingRequest, email: str, name: str, start: datetime, key: booking_keys.Key | None
) -> Meeting:
    page = await find_page(ctx, request.slug, request.domain)
    if page is None:
        raise NotFound("scheduling page not found")
    services = ctx.services
    attempt = Attempt(services, page, email, start, key)
    state = await page_state(ctx, page)
    if not state.active:
        raise await attempt.refuse(booking_rules.pages_disabled())
    rules = slot_rules(page)
    end = start + rules.duration
    fetch_start, fetch_end = slots.busy_window_for(rules, start, end)
    now = ctx.now()

    if state.offline:
        busy = await meeting_busy(services, page.user_id, fetch_start, fetch_end)
        primary = None
    else:
        try:
            found = await owner_busy(services, page.user_id, fetch_start, fetch_end, live=True)
        except ProviderError as exc:
            await attempt.record(BookingOutcome.SLOT_UNAVAILABLE, f"calendar provider unavailable: {exc.message}")
            raise ProviderFailure("The calendar could not be checked just now; please try again.") from exc
        if found.lost:
            names = sorted({c.name for c in found.lost})
            raise await attempt.refuse(booking_rules.access_lost(names), blocked_calendars=names)
        busy, primary = found.intervals, found.primary

    if not slots.is_slot_offered(rules, start, busy=busy, now=now):
        raise await attempt.refuse(booking_rules.not_offered())

    meeting = Meeting(
        user_id=page.user_id,
        page_id=page.id,
        start=start,
        end=end,
        status=state.meeting_status,
        source=MeetingSource.PAGE,
        title=f"{page.name} with {name}",
        contact_email=email,
        contact_name=name,
        sync_state=SyncState.NOT_SYNCED if primary is None else SyncState.PENDING,
        connection_id=primary[0].id if primary else None,
        provider_calendar_id=primary[1].provider_calendar_id if primary else None,
        created_at=now,
    )

    async def effects(session: AsyncSession) -> uuid.UUID | None:
        """Everything the booking causes, committed with it: the attempt, the calendar write or the mail."""
        await attempt.add(session, state.booked_outcome)
        if key is not None:
            await booking_keys.add_meeting(session, key, meeting)
        if state.offline:
            await notify.meeting_requested(session, services, page.user_id, page.slug, start, email)
            return None
        return await calendar_writes.enqueue_write(session, services, meeting)

    taken, write_job = await _take_slot(services, meeting, rules.buffer, effects)
    if not taken:
        if key is not None:
            await booking_keys.replay(services, key)  # the slot went to a concurrent request with this key
        raise await attempt.refuse(booking_rules.just_taken())
    failpoint(BOOKING_AFTER_COMMIT)
    await availability_changed(services, page.user_id)
    # the visitor's answer shows the meeting in the calendar when the write works at once; when it does
    # not, the job is retried later and the booking stands
    await services.jobs.run_now(write_job)
    async with services.sessionmaker() as session:
        stored = await session.get(Meeting, meeting.id)
    return stored or meeting


async def _take_slot(
    services: Services,
    meeting: Meeting,
    buffer: timedelta,
    effects: Callable[[AsyncSession], Awaitable[uuid.UUID | None]],
) -> tuple[bool, uuid.UUID | None]:
    """Insert the meeting and its effects unless a live meeting overlaps it (with the page's buffer).

    The owner's settings row is locked first (an UPDATE: a row lock on PostgreSQL, the write lock on
    SQLite), so concurrent bookings of one owner run this check one at a time; the unique index on
    (owner, start) for live meetings stays the last word.
    """
    async with services.sessionmaker() as session:
        await begin_write(session)
        await session.exec(  # type: ignore[call-overload]
            update(CalendarSettings)
            .where(col(CalendarSettings.user_id) == meeting.user_id)
            .values(pages_active=CalendarSettings.pages_active)
        )
        clash = (
            await session.exec(
                select(Meeting.id).where(
                    Meeting.user_id == meeting.user_id,
                    col(Meeting.status).in_(LIVE_STATUSES),
                    col(Meeting.start) < meeting.end + buffer,
                    col(Meeting.end) > meeting.start - buffer,
                )
            )
        ).first()
        if clash is not None:
            await session.rollback()
            return False, None
        session.add(meeting)
        try:
            await session.flush()
            job = await effects(session)
            failpoint(BOOKING_BEFORE_COMMIT)
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return False, None
    return True, job
