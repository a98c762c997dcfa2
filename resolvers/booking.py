"""bookMeeting: re-check the slot with the providers and the database, then take it exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from db.models import CalendarSettings, Meeting, MeetingSource, SchedulingPage, SyncState
from meetgraph.context import Context
from meetgraph.services import Services
from providers.base import ProviderError
from resolvers import attempts, calendar_writes, notify
from resolvers.availability import meeting_busy, owner_busy
from resolvers.pages import page_state, slot_rules
from resolvers.public_pages import find_page
from scheduling import booking_rules, slots, validation
from scheduling.booking_rules import LIVE_STATUSES, BookingOutcome, Refusal
from scheduling.errors import InvalidInput, NotFound, ProviderFailure, UserError


@dataclass(frozen=True)
class BookingRequest:
    slug: str
    domain: str | None
    start: datetime
    contact_email: str
    contact_name: str


@dataclass(frozen=True)
class Attempt:
    """What every outcome of one booking attempt records."""

    services: Services
    page: SchedulingPage
    contact_email: str
    start: datetime

    async def refuse(self, refusal: Refusal) -> UserError:
        """Record the refused attempt; returns the typed error to raise."""
        await self.record(refusal.outcome, refusal.record)
        return refusal.error

    async def record(self, outcome: BookingOutcome, message: str | None = None) -> None:
        await attempts.record(
            self.services,
            user_id=self.page.user_id,
            page_id=self.page.id,
            page_slug=self.page.slug,
            contact_email=self.contact_email,
            start=self.start,
            outcome=outcome,
            message=message,
        )


def _validated(request: BookingRequest) -> tuple[str, str, datetime]:
    email = validation.email(request.contact_email, "contactEmail")
    name = validation.text(request.contact_name, "contactName", max_length=200)
    if request.start.tzinfo is None:
        raise InvalidInput("start needs a UTC offset, e.g. 2026-12-07T09:00:00Z", field="start")
    return email, name, request.start.astimezone(UTC)


async def book(ctx: Context, request: BookingRequest) -> Meeting:
    email, name, start = _validated(request)
    page = await find_page(ctx, request.slug, request.domain)
    if page is None:
        raise NotFound("scheduling page not found")
    services = ctx.services
    attempt = Attempt(services, page, email, start)
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
            found = await owner_busy(services, page.user_id, fetch_start, fetch_end)
        except ProviderError as exc:
            await attempt.record(BookingOutcome.SLOT_UNAVAILABLE, f"calendar provider unavailable: {exc.message}")
            raise ProviderFailure("The calendar could not be checked just now; please try again.") from exc
        if found.lost:
            names = sorted({c.name for c in found.lost})
            refusal = await attempt.refuse(booking_rules.access_lost(names))
            notify.booking_blocked(services, page.user_id, page.slug, start, email, names)
            raise refusal
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
    if not await _take_slot(services, meeting, rules.buffer):
        raise await attempt.refuse(booking_rules.just_taken())

    if state.offline:
        await attempt.record(state.booked_outcome)
        notify.meeting_requested(services, page.user_id, page.slug, start, email)
        return meeting
    if not await calendar_writes.write_once(services, meeting.id):
        calendar_writes.retry_later(services, meeting.id)
    await attempt.record(state.booked_outcome)
    async with services.sessionmaker() as session:
        stored = await session.get(Meeting, meeting.id)
    return stored or meeting


async def _take_slot(services: Services, meeting: Meeting, buffer: timedelta) -> bool:
    """Insert the meeting unless a live one overlaps it (with the page's buffer).

    The owner's settings row is locked first (an UPDATE: a row lock on PostgreSQL, the write lock on
    SQLite), so concurrent bookings of one owner run this check one at a time; the unique index on
    (owner, start) for live meetings stays the last word.
    """
    async with services.sessionmaker() as session:
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
            return False
        session.add(meeting)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return False
    return True
