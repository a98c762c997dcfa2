"""Saving calendar settings: load what the rules need, validate the whole input (scheduling.settings_rules),
then write everything at once (or nothing), with the job that creates the task calendar when it is due."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Calendar, CalendarConnection, CalendarSettings, Domain, SchedulingPage, User
from meetgraph import sync
from meetgraph.availability_events import availability_changed
from meetgraph.context import Context
from resolvers import calendar_writes
from resolvers.settings import calendars_of, connections_of, load_settings, user_calendar
from scheduling import settings_rules
from scheduling.calendars import ProviderKind


def _choice(calendar: Calendar) -> settings_rules.CalendarChoice:
    return settings_rules.CalendarChoice(
        id=calendar.id,
        name=calendar.name,
        access_role=calendar.access_role,
        status=calendar.status,
        is_primary=calendar.is_primary,
    )


def _referenced(*values: object) -> list[uuid.UUID]:
    """The well-formed ids among the given inputs (validation names the malformed ones)."""
    found = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            try:
                found.append(uuid.UUID(str(item)))
            except ValueError:
                continue
    return found


async def _facts(
    session: AsyncSession,
    owner: User,
    settings: CalendarSettings,
    connections: list[CalendarConnection],
    changes: Mapping[str, Any],
) -> settings_rules.SettingsFacts:
    """Load only the rows the given changes refer to."""
    calendars: dict[uuid.UUID, settings_rules.CalendarChoice] = {}
    if changes.get("availability_calendar_ids") is not None:
        keys = _referenced(changes["availability_calendar_ids"])
        rows = await session.exec(calendars_of(owner.id).where(col(Calendar.id).in_(keys)))
        calendars = {c.id: _choice(c) for c in rows.all()}
    own_pages: list[uuid.UUID] = []
    page_keys = _referenced(changes.get("default_meeting_link_id"), changes.get("chat_meeting_link_id"))
    if page_keys:
        own_pages = list(
            (
                await session.exec(
                    select(SchedulingPage.id).where(
                        SchedulingPage.user_id == owner.id, col(SchedulingPage.id).in_(page_keys)
                    )
                )
            ).all()
        )
    domains: dict[uuid.UUID, bool] = {}
    domain_keys = _referenced(changes.get("meeting_domain_id"))
    if domain_keys:
        domain_rows = await session.exec(
            select(Domain).where(Domain.account_id == owner.account_id, col(Domain.id).in_(domain_keys))
        )
        domains = {d.id: d.verified_at is not None for d in domain_rows.all()}
    return settings_rules.SettingsFacts(
        seat=owner,
        connection_kinds=[ProviderKind(c.provider) for c in connections],
        task_calendar_exists=bool(connections) and connections[0].task_calendar_id is not None,
        chat_include_meeting_link=settings.chat_include_meeting_link,
        chat_meeting_link_id=settings.chat_meeting_link_id,
        calendars=calendars,
        own_page_ids=frozenset(own_pages),
        account_domain_ids=frozenset(domains),
        verified_domain_ids=frozenset(key for key, verified in domains.items() if verified),
    )


async def save(ctx: Context, changes: Mapping[str, Any]) -> CalendarSettings:
    """Apply the given fields (absent = unchanged, None = cleared where a field may be empty)."""
    user = ctx.require_user()
    settings_rules.check_sizes(changes)
    async with ctx.db() as session:
        owner = await session.get(User, user.id)
        assert owner is not None
        settings = await load_settings(session, user.id)
        connections = list((await session.exec(connections_of(owner.id))).all())
        update = settings_rules.validate(changes, await _facts(session, owner, settings, connections, changes))
        calendar_job = None
        if update.create_task_calendar:  # the one outside effect: a job, run after the commit
            calendar_job = await calendar_writes.enqueue_task_calendar(session, ctx.services, connections[0])
        for name, value in update.values.items():
            setattr(settings, name, value)
        session.add(settings)
        if update.availability_calendar_ids is not None:
            calendars = list((await session.exec(calendars_of(owner.id))).all())
            before = {calendar.id: calendar.is_availability for calendar in calendars}
            for calendar in calendars:
                calendar.is_availability = calendar.id in update.availability_calendar_ids
                session.add(calendar)
            await sync.availability_calendars_changed(session, ctx.services, before, calendars)
        await session.commit()
    await availability_changed(ctx.services, user.id)
    await ctx.services.jobs.run_now(calendar_job)
    return settings


async def set_pages_active(ctx: Context, active: bool) -> CalendarSettings:
    user = ctx.require_user()
    async with ctx.db() as session:
        settings = await load_settings(session, user.id)
        settings.pages_active = active
        session.add(settings)
        await session.commit()
    await availability_changed(ctx.services, user.id)
    return settings


async def remove_inactive_calendar(ctx: Context, calendar_id: str) -> CalendarSettings:
    """Drop a calendar whose access was lost, so the user's pages take bookings again."""
    user = ctx.require_user()
    async with ctx.db() as session:
        found = await user_calendar(session, user.id, calendar_id)
        settings_rules.check_removable(_choice(found))
        await session.delete(found)
        settings = await load_settings(session, user.id)
        await session.commit()
    await availability_changed(ctx.services, user.id)
    return settings
