"""Calendar settings: read side (saving lives in resolvers/settings_save.py)."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from db.models import Calendar, CalendarConnection, CalendarSettings, ConnectionStatus, Domain
from meetgraph.context import Context
from resolvers.ids import parse_id
from scheduling.errors import NotFound


def calendars_of(user_id: uuid.UUID) -> SelectOfScalar[Calendar]:
    """Every calendar of every connection of the user (the scope all calendar ids are checked against)."""
    return (
        select(Calendar)
        .join(CalendarConnection, col(Calendar.connection_id) == CalendarConnection.id)
        .where(CalendarConnection.user_id == user_id)
    )


async def user_calendar(session: AsyncSession, user_id: uuid.UUID, calendar_id: str) -> Calendar:
    """The user's calendar with the public id `calendar_id`; NotFound for a malformed id or another user's."""
    key = parse_id(calendar_id, "calendar")
    found = (await session.exec(calendars_of(user_id).where(Calendar.id == key))).first()
    if found is None:
        raise NotFound("calendar not found")
    return found


async def load_settings(session: AsyncSession, user_id: uuid.UUID) -> CalendarSettings:
    """The user's settings row (created with the user; defaults when an old user has none yet)."""
    return await session.get(CalendarSettings, user_id) or CalendarSettings(user_id=user_id)


async def settings_for(ctx: Context, user_id: uuid.UUID) -> CalendarSettings:
    settings = await ctx.loaders.settings_by_user.load(user_id)
    if settings is None:  # every user gets a row at creation; this only guards old data
        settings = CalendarSettings(user_id=user_id)
    return settings


async def inactive_calendars(ctx: Context, user_id: uuid.UUID) -> list[Calendar]:
    """Availability or primary calendars whose access was lost; they block bookings until removed."""
    calendars = await ctx.loaders.calendars_by_user.load(user_id)
    return [c for c in calendars if c.status is ConnectionStatus.INACTIVE]


async def account_domains(ctx: Context, account_id: uuid.UUID) -> list[Domain]:
    """The account's domains; the caller is whoever may see that account's user (me, or the admin creating it)."""
    async with ctx.db() as session:
        rows = await session.exec(select(Domain).where(Domain.account_id == account_id).order_by(col(Domain.hostname)))
        return list(rows.all())


def connections_of(user_id: uuid.UUID) -> SelectOfScalar[CalendarConnection]:
    """The user's connections in slot order: the first is where CRM meetings, tasks and bookings go."""
    return (
        select(CalendarConnection).where(CalendarConnection.user_id == user_id).order_by(col(CalendarConnection.slot))
    )


async def main_connection(session: AsyncSession, user_id: uuid.UUID) -> CalendarConnection | None:
    """The connection CRM meetings, tasks and bookings are written to: the user's first (slot 1)."""
    return (await session.exec(connections_of(user_id))).first()
