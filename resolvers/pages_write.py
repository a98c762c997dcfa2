"""Creating and editing scheduling pages (the rules are in scheduling.page_rules)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import CalendarSettings, SchedulingPage
from meetgraph.availability_events import availability_changed
from meetgraph.context import Context
from resolvers.ids import owned
from scheduling import page_rules, validation
from scheduling.errors import SlugTaken


async def _slug_free(session: AsyncSession, slug: str, page_id: uuid.UUID | None = None) -> bool:
    found = (await session.exec(select(SchedulingPage.id).where(SchedulingPage.slug == slug))).first()
    return found is None or found == page_id


async def _default_slug(session: AsyncSession, prefix: str | None, name: str) -> str:
    base = page_rules.slug_base(prefix, name)
    taken = (
        await session.exec(
            select(SchedulingPage.slug).where(
                (col(SchedulingPage.slug) == base) | col(SchedulingPage.slug).startswith(f"{base}-")
            )
        )
    ).all()
    return page_rules.unique_slug(base, set(taken))


def _apply(page: SchedulingPage, data: page_rules.PageInput, default_timezone: str) -> None:
    fields = page_rules.page_fields(data, default_timezone=default_timezone, current_hours=page.weekly_hours)
    for name, value in asdict(fields).items():
        setattr(page, name, value)


async def _commit(session: AsyncSession, page: SchedulingPage) -> None:
    session.add(page)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent request took the slug
        await session.rollback()
        raise SlugTaken(page_rules.slug_taken_message(page.slug)) from None


async def create_page(ctx: Context, data: page_rules.PageInput) -> SchedulingPage:
    user = ctx.require_user()
    page = SchedulingPage(user_id=user.id, name="", slug="", created_at=ctx.now())
    _apply(page, data, user.timezone)
    async with ctx.db() as session:
        if data.slug:
            page.slug = validation.slug(data.slug)
            if not await _slug_free(session, page.slug):
                raise SlugTaken(page_rules.slug_taken_message(page.slug))
        else:
            settings = await session.get(CalendarSettings, user.id)
            page.slug = await _default_slug(session, settings.meeting_url_prefix if settings else None, page.name)
        await _commit(session, page)
    await availability_changed(ctx.services, user.id)
    return page


async def update_page(ctx: Context, page_id: str, data: page_rules.PageInput) -> SchedulingPage:
    user = ctx.require_user()
    async with ctx.db() as session:
        page = await owned(session, SchedulingPage, page_id, "scheduling page", user_id=user.id)
        _apply(page, data, page.timezone)
        if data.slug:
            slug = validation.slug(data.slug)
            if slug != page.slug and not await _slug_free(session, slug, page.id):
                raise SlugTaken(page_rules.slug_taken_message(slug))
            page.slug = slug
        await _commit(session, page)
    await availability_changed(ctx.services, user.id)
    return page
