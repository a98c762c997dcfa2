"""Storing a verified calendar account: every connection rule re-checked in the transaction, then the
connection, its calendars, the inbox that comes along and the defaults written at once."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Calendar, CalendarConnection, EmailInbox, User
from meetgraph.services import Services
from providers.base import ProviderCalendar
from resolvers.settings import load_settings
from scheduling import connection_rules
from scheduling.calendars import ProviderKind
from scheduling.errors import NotFound


@dataclass(frozen=True)
class Verified:
    """What a provider confirmed about an account before anything is stored."""

    kind: ProviderKind
    email: str
    credentials: Mapping[str, object]
    calendars: Sequence[ProviderCalendar]


def _may_hold_two(user: User) -> bool:
    return connection_rules.may_hold_two_connections(
        created_at=user.created_at, legacy_dual_forfeited=user.legacy_dual_forfeited
    )


async def free_slot(session: AsyncSession, user: User) -> int:
    """The connection slot a new connection of `user` takes; ConnectionLimit when none is left."""
    taken = set(
        (await session.exec(select(CalendarConnection.slot).where(CalendarConnection.user_id == user.id))).all()
    )
    return connection_rules.free_slot(taken, may_hold_two=_may_hold_two(user))


async def inbox_at(session: AsyncSession, account_id: uuid.UUID, address: str) -> EmailInbox | None:
    return (
        await session.exec(select(EmailInbox).where(EmailInbox.account_id == account_id, EmailInbox.address == address))
    ).first()


async def check_not_shared(session: AsyncSession, user: User, address: str) -> None:
    inbox = await inbox_at(session, user.account_id, address)
    connection_rules.check_inbox_connectable(
        address,
        inbox_shared=inbox.shared if inbox is not None else None,
        inbox_user_id=inbox.user_id if inbox is not None else None,
        user_id=user.id,
    )


async def store_connection(
    session: AsyncSession, services: Services, user_id: uuid.UUID, verified: Verified
) -> CalendarConnection:
    """Re-check every rule in the transaction, then write connection, calendars, inbox and defaults."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    connection_rules.check_permission(user.personal_email_access)
    email = verified.email.lower()
    await check_not_shared(session, user, email)
    connection = CalendarConnection(
        user_id=user.id,
        slot=await free_slot(session, user),
        provider=verified.kind.value,
        email=email,
        credentials=services.cipher.encrypt(verified.credentials),
        created_at=services.clock(),
    )
    session.add(connection)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent connect took the slot
        await session.rollback()
        raise connection_rules.connection_limit(may_hold_two=_may_hold_two(user)) from None
    for calendar in verified.calendars:
        session.add(
            Calendar(
                connection_id=connection.id,
                provider_calendar_id=calendar.id,
                name=calendar.name[:500],
                is_primary=calendar.is_primary,
                access_role=calendar.access_role.value,
            )
        )
    inbox = await inbox_at(session, user.account_id, email)
    if inbox is None:
        inbox = EmailInbox(account_id=user.account_id, user_id=user.id, address=email, created_at=services.clock())
    inbox.connection_id = connection.id
    session.add(inbox)
    if connection_rules.turns_on_sync_and_pages(verified.kind):
        settings = await load_settings(session, user.id)
        settings.calendar_sync = True
        settings.scheduling_pages_enabled = True
        session.add(settings)
    await session.flush()
    return connection
