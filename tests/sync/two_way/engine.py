"""Two-way sync through real sessions: an owner connected through the OAuth dance, and the sync engine's call
(apply_calendar_changes in a write transaction of its own, committed) played by `apply`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from db.engine import begin_write
from db.models import Calendar, CalendarConnection, Meeting
from meetgraph.services import Services
from providers.base import Attendee, SyncedEvent
from resolvers.two_way import apply_calendar_changes
from tests.utils.calendars import ACCOUNTS
from tests.utils.connection import connect
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user

OWNER_EMAIL = "ada@example.com"
CONTACT = "paul@customer.example"

MEETINGS = "{ me { meetings { id start end status source title contactEmail contactName syncState } } }"


async def owner(gql: GraphQLClient, http: httpx.AsyncClient, provider: str = "GOOGLE") -> str:
    """A user with the world's account of `provider` connected (calendar sync on by default); their token."""
    _, token = await create_user(gql, OWNER_EMAIL)
    await connect(gql, http, token, provider)
    return token


async def meetings(gql: GraphQLClient, token: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await gql(MEETINGS, token=token))["me"]["meetings"]
    return found


async def stored_meetings(services: Services) -> list[Meeting]:
    async with services.sessionmaker() as session:
        return list((await session.exec(select(Meeting).order_by(col(Meeting.start)))).all())


def event(
    start: datetime,
    *,
    provider: str = "GOOGLE",
    event_id: str = "evt-1",
    minutes: int = 30,
    attendees: Sequence[str] = (CONTACT,),
    **fields: Any,
) -> SyncedEvent:
    """An event of the owner's primary calendar as a sync reports it: organised by the account, the owner and
    `attendees` invited."""
    values: dict[str, Any] = {
        "id": event_id,
        "start": start,
        "end": start + timedelta(minutes=minutes),
        "blocks": True,
        "status": "busy",
        "summary": "Renewal",
        "organizer_email": ACCOUNTS[provider],
        "organized_by_account": True,
        "attendees": (Attendee(ACCOUNTS[provider].upper()), *(Attendee(a, "Paul") for a in attendees)),
        "version": "1",
    }
    values.update(fields)
    return SyncedEvent(**values)


async def apply(
    services: Services,
    changed: Sequence[SyncedEvent] = (),
    removed: Sequence[str] = (),
    *,
    calendar_name: str | None = None,
) -> bool:
    """The sync engine's call for the only connection's primary calendar (or the calendar named so), committed."""
    async with services.sessionmaker() as session:
        await begin_write(session)
        connection = (await session.exec(select(CalendarConnection))).one()
        query = select(Calendar).where(Calendar.connection_id == connection.id)
        query = query.where(Calendar.name == calendar_name) if calendar_name else query.where(col(Calendar.is_primary))
        calendar = (await session.exec(query)).one()
        result = await apply_calendar_changes(
            session, services, calendar, connection, changed, removed, now=services.clock()
        )
        await session.commit()
    return result
