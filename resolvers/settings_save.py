"""Saving calendar settings: the whole input is validated first, then written at once (or not at all)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import (
    Calendar,
    CalendarConnection,
    CalendarSettings,
    ConnectionStatus,
    Domain,
    SchedulingPage,
    User,
)
from meetgraph.context import Context
from providers.base import ProviderError, ProviderKind
from providers.factory import provider_for
from resolvers import licences, validation
from resolvers.errors import InvalidInput, LicenseRequired, NotFound, ProviderFailure
from resolvers.ids import parse_id, parse_input_id
from resolvers.settings import calendars_of, load_settings

TASK_CALENDAR_NAME = "CRM tasks"


async def _own_page(session: AsyncSession, user: User, value: str, field: str) -> uuid.UUID:
    key = parse_input_id(value, field)
    page = await session.get(SchedulingPage, key)
    if page is None or page.user_id != user.id:
        raise InvalidInput(f"{field} must be one of your scheduling pages", field=field)
    return key


async def _availability(session: AsyncSession, user: User, values: Sequence[str]) -> set[uuid.UUID]:
    field = "availabilityCalendarIds"
    keys = {parse_input_id(v, field) for v in values}
    rows = (await session.exec(calendars_of(user.id).where(col(Calendar.id).in_(keys)))).all()
    if len(rows) != len(keys):
        raise InvalidInput("only calendars of your connected accounts can be chosen", field=field)
    for calendar in rows:
        if not calendar.selectable_for_availability:
            raise InvalidInput(
                f"{calendar.name} is shared free/busy only; choose calendars you own or see in full detail",
                field=field,
            )
        if calendar.status is ConnectionStatus.INACTIVE:
            raise InvalidInput(f"{calendar.name} is inactive (access was lost)", field=field)
    return keys


async def _connections(session: AsyncSession, user: User) -> list[CalendarConnection]:
    rows = await session.exec(
        select(CalendarConnection).where(CalendarConnection.user_id == user.id).order_by(col(CalendarConnection.slot))
    )
    return list(rows.all())


async def save(ctx: Context, changes: Mapping[str, Any]) -> CalendarSettings:
    """Apply the given fields (absent = unchanged, None = cleared where a field may be empty)."""
    user = ctx.require_user()
    async with ctx.db() as session:
        owner = await session.get(User, user.id)
        assert owner is not None
        settings = await load_settings(session, user.id)
        connections = await _connections(session, owner)
        availability: set[uuid.UUID] | None = None

        # validate everything before writing anything
        if changes.get("calendar_sync"):
            if not connections:
                raise InvalidInput("calendar sync needs a connected calendar", field="calendarSync")
            if all(c.provider == ProviderKind.EXCHANGE.value for c in connections):
                raise InvalidInput("Exchange calendars have no two-way sync", field="calendarSync")
        if changes.get("task_sync"):
            if not licences.has_task_sync(owner):
                raise LicenseRequired(
                    "Task sync needs a paid Sales Hub or Service Hub seat, Professional or Enterprise."
                )
            if not connections:
                raise InvalidInput("task sync needs a connected calendar", field="taskSync")
        if changes.get("availability_calendar_ids") is not None:
            availability = await _availability(session, owner, changes["availability_calendar_ids"])
        prefix = changes.get("meeting_url_prefix")
        if prefix is not None:
            if not licences.has_url_prefix(owner):
                raise LicenseRequired(
                    "A meeting URL prefix needs a paid Sales Hub or Service Hub seat, Starter or above."
                )
            prefix = validation.slug(prefix, "meetingUrlPrefix")
            if "/" in prefix:
                raise InvalidInput("meetingUrlPrefix must not contain '/'", field="meetingUrlPrefix")
        default_link = changes.get("default_meeting_link_id")
        if default_link is not None:
            default_link = await _own_page(session, owner, default_link, "defaultMeetingLinkId")
        chat_link = changes.get("chat_meeting_link_id")
        if chat_link is not None:
            chat_link = await _own_page(session, owner, chat_link, "chatMeetingLinkId")
        domain_id = changes.get("meeting_domain_id")
        if domain_id is not None:
            key = parse_input_id(domain_id, "meetingDomainId")
            domain = await session.get(Domain, key)
            if domain is None or domain.account_id != owner.account_id:
                raise InvalidInput(
                    "only domains connected in your account's domain manager can be chosen",
                    field="meetingDomainId",
                )
            domain_id = key
        include_chat = changes.get("chat_include_meeting_link", settings.chat_include_meeting_link)
        chat_target = chat_link if "chat_meeting_link_id" in changes else settings.chat_meeting_link_id
        if include_chat and chat_target is None:
            raise InvalidInput(
                "choose the scheduling page to include in the chat widget", field="chatMeetingLinkId"
            )

        # the one outside effect: the task sub-calendar, created once when task sync is first turned on
        task_connection = connections[0] if connections else None
        if changes.get("task_sync") and task_connection is not None and task_connection.task_calendar_id is None:
            try:
                async with provider_for(task_connection, ctx.services) as provider:
                    created = await provider.create_calendar(TASK_CALENDAR_NAME)
            except ProviderError as exc:
                raise ProviderFailure(f"Creating the task calendar failed: {exc.message}") from exc
            task_connection.task_calendar_id = created.id
            session.add(task_connection)

        # write
        for name in ("calendar_sync", "task_sync", "scheduling_pages_enabled", "chat_include_meeting_link"):
            if changes.get(name) is not None:
                setattr(settings, name, bool(changes[name]))
        if "meeting_url_prefix" in changes:
            settings.meeting_url_prefix = prefix
        if "default_meeting_link_id" in changes:
            settings.default_meeting_link_id = default_link
        if "chat_meeting_link_id" in changes:
            settings.chat_meeting_link_id = chat_link
        if "meeting_domain_id" in changes:
            settings.meeting_domain_id = domain_id
        session.add(settings)
        if availability is not None:
            calendars = (await session.exec(calendars_of(owner.id))).all()
            for calendar in calendars:
                calendar.is_availability = calendar.id in availability
                session.add(calendar)
        await session.commit()
    return settings


async def set_pages_active(ctx: Context, active: bool) -> CalendarSettings:
    user = ctx.require_user()
    async with ctx.db() as session:
        settings = await load_settings(session, user.id)
        settings.pages_active = active
        session.add(settings)
        await session.commit()
    return settings


async def remove_inactive_calendar(ctx: Context, calendar_id: str) -> CalendarSettings:
    """Drop a calendar whose access was lost, so the user's pages take bookings again."""
    user = ctx.require_user()
    key = parse_id(calendar_id, "calendar")
    async with ctx.db() as session:
        found = (await session.exec(calendars_of(user.id).where(Calendar.id == key))).first()
        if found is None:
            raise NotFound("calendar not found")
        if found.status is not ConnectionStatus.INACTIVE:
            raise InvalidInput("only inactive calendars can be removed", field="calendarId")
        if found.is_primary:
            raise InvalidInput(
                "the primary calendar cannot be removed; disconnect the calendar account instead",
                field="calendarId",
            )
        await session.delete(found)
        settings = await load_settings(session, user.id)
        await session.commit()
    return settings
