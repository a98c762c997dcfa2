"""Creating and editing scheduling pages."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import CalendarSettings, SchedulingPage
from meetgraph import slots
from meetgraph.context import Context
from resolvers import validation
from resolvers.errors import InvalidInput, NotFound, SlugTaken
from resolvers.ids import parse_id

MAX_DURATION = 12 * 60
MAX_BUFFER = 24 * 60
MAX_NOTICE = 60 * 24 * 60


@dataclass(frozen=True)
class PageInput:
    name: str
    slug: str | None = None
    duration_minutes: int | None = 30
    timezone: str | None = None
    weekly_hours: list[tuple[int, str, str]] | None = None
    buffer_minutes: int | None = 0
    minimum_notice_minutes: int | None = 0


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:80] or "meeting"


def stored_hours(hours: list[slots.WeeklyHours]) -> list[dict[str, object]]:
    return [dict(zip(("weekday", "start", "end"), slots.format_weekly_hours(h))) for h in hours]


def slot_rules(page: SchedulingPage) -> slots.SlotRules:
    hours = slots.parse_weekly_hours([(h["weekday"], h["start"], h["end"]) for h in page.weekly_hours])
    return slots.SlotRules(
        weekly_hours=hours,
        timezone=slots.validate_timezone(page.timezone),
        duration=timedelta(minutes=page.duration_minutes),
        buffer=timedelta(minutes=page.buffer_minutes),
        minimum_notice=timedelta(minutes=page.minimum_notice_minutes),
    )


async def _slug_free(session: AsyncSession, slug: str, page_id: object = None) -> bool:
    found = (await session.exec(select(SchedulingPage.id).where(SchedulingPage.slug == slug))).first()
    return found is None or found == page_id


async def _default_slug(session: AsyncSession, prefix: str | None, name: str) -> str:
    """From the meeting URL prefix (future pages only) and the name, made unique with -2, -3..."""
    base = f"{prefix}/{slugify(name)}" if prefix else slugify(name)
    taken = set(
        (
            await session.exec(
                select(SchedulingPage.slug).where(
                    (col(SchedulingPage.slug) == base) | col(SchedulingPage.slug).startswith(f"{base}-")
                )
            )
        ).all()
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _apply(page: SchedulingPage, data: PageInput, default_timezone: str) -> None:
    page.name = validation.text(data.name, "name", max_length=200)
    page.duration_minutes = validation.int_range(
        data.duration_minutes if data.duration_minutes is not None else 30, "durationMinutes", low=5, high=MAX_DURATION
    )
    page.timezone = validation.timezone(data.timezone or default_timezone)
    if data.weekly_hours is not None:
        try:
            hours = slots.parse_weekly_hours(data.weekly_hours)
        except slots.WeeklyHoursError as exc:
            raise InvalidInput(exc.message, field=exc.field) from None
        page.weekly_hours = stored_hours(hours)
    elif not page.weekly_hours:
        page.weekly_hours = stored_hours(list(slots.DEFAULT_WEEKLY_HOURS))
    page.buffer_minutes = validation.int_range(data.buffer_minutes or 0, "bufferMinutes", low=0, high=MAX_BUFFER)
    page.minimum_notice_minutes = validation.int_range(
        data.minimum_notice_minutes or 0, "minimumNoticeMinutes", low=0, high=MAX_NOTICE
    )


async def _commit(session: AsyncSession, page: SchedulingPage) -> None:
    session.add(page)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent request took the slug
        await session.rollback()
        raise SlugTaken(f"/meetings/{page.slug} is taken") from None


async def create_page(ctx: Context, data: PageInput) -> SchedulingPage:
    user = ctx.require_user()
    page = SchedulingPage(user_id=user.id, name="", slug="", created_at=ctx.now())
    _apply(page, data, user.timezone)
    async with ctx.db() as session:
        if data.slug:
            page.slug = validation.slug(data.slug)
            if not await _slug_free(session, page.slug):
                raise SlugTaken(f"/meetings/{page.slug} is taken")
        else:
            settings = await session.get(CalendarSettings, user.id)
            page.slug = await _default_slug(session, settings.meeting_url_prefix if settings else None, page.name)
        await _commit(session, page)
    return page


async def update_page(ctx: Context, page_id: str, data: PageInput) -> SchedulingPage:
    user = ctx.require_user()
    key = parse_id(page_id, "scheduling page")
    async with ctx.db() as session:
        page = await session.get(SchedulingPage, key)
        if page is None or page.user_id != user.id:
            raise NotFound("scheduling page not found")
        _apply(page, data, page.timezone)
        if data.slug:
            slug = validation.slug(data.slug)
            if slug != page.slug and not await _slug_free(session, slug, page.id):
                raise SlugTaken(f"/meetings/{slug} is taken")
            page.slug = slug
        await _commit(session, page)
    return page
