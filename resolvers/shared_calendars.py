"""Calendars of other mailboxes added by address (scheduling.shared_calendars): the provider opens the calendar,
then it is stored as one more calendar of the connection, selectable and lost like any other."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from db.models import Calendar, CalendarConnection, ConnectionStatus
from meetgraph.context import Context
from meetgraph.providers import provider_for
from providers.base import CalendarNotShared, ProviderCalendar, ProviderError, UnsupportedOperation
from resolvers.ids import owned
from resolvers.settings import user_calendar
from scheduling import shared_calendars
from scheduling.errors import CalendarNotReadable, ProviderFailure, Unsupported

CONNECTION = "calendar connection"


async def _open(ctx: Context, connection: CalendarConnection, address: str) -> ProviderCalendar:
    """The provider's view of the mailbox's calendar, its failures as the mutation's typed errors."""
    if connection.status is ConnectionStatus.INACTIVE:
        raise ProviderFailure("The calendar account's access is lost: reconnect it before adding calendars to it")
    try:
        async with provider_for(connection, ctx.services) as provider:
            return await provider.shared_calendar(address)
    except UnsupportedOperation as exc:
        raise Unsupported(exc.message) from exc
    except CalendarNotShared as exc:
        raise CalendarNotReadable(exc.message) from exc
    except ProviderError as exc:
        raise ProviderFailure(exc.message) from exc


async def add_shared_calendar(ctx: Context, connection_id: str, address: str) -> Calendar:
    """Add mailbox `address`'s calendar to the connection (not as an availability calendar yet)."""
    user = ctx.require_user()
    async with ctx.db() as session:
        connection = await owned(session, CalendarConnection, connection_id, CONNECTION, user_id=user.id)
    cleaned = shared_calendars.shared_address(address, connection.email)
    found = await _open(ctx, connection, cleaned)
    async with ctx.db() as session:
        connection = await owned(session, CalendarConnection, connection_id, CONNECTION, user_id=user.id)
        known = await session.exec(select(Calendar.provider_calendar_id).where(Calendar.connection_id == connection.id))
        shared_calendars.check_not_added(found.id, set(known.all()))
        calendar = Calendar(
            connection_id=connection.id,
            provider_calendar_id=found.id,
            name=shared_calendars.shared_calendar_name(found.name, cleaned),
            is_primary=False,
            access_role=found.access_role.value,
        )
        session.add(calendar)
        try:
            await session.commit()
        except IntegrityError:  # a concurrent add of the same calendar
            await session.rollback()
            raise shared_calendars.already_added() from None
        await session.refresh(calendar)
    return calendar


async def remove_shared_calendar(ctx: Context, calendar_id: str) -> uuid.UUID:
    """Remove a calendar shared with the account (never one it owns), active or not."""
    user = ctx.require_user()
    async with ctx.db() as session:
        found = await user_calendar(session, user.id, calendar_id)
        key = found.id
        shared_calendars.check_removable(is_primary=found.is_primary, access_role=found.access_role)
        await session.delete(found)
        await session.commit()
    return key
