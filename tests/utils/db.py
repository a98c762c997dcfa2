"""Row counts read straight from the test's database, for checks that a request stored nothing."""

from __future__ import annotations

from sqlmodel import SQLModel, func, select

from db.models import Calendar, CalendarConnection, EmailInbox
from meetgraph.services import Services

CONNECTED_ROWS: tuple[type[SQLModel], ...] = (CalendarConnection, Calendar, EmailInbox)


async def count(services: Services, model: type[SQLModel]) -> int:
    async with services.sessionmaker() as session:
        total: int = (await session.exec(select(func.count()).select_from(model))).one()
    return total


async def counts(services: Services, *models: type[SQLModel]) -> dict[str, int]:
    """Row counts per table (connections, calendars and inboxes unless told otherwise)."""
    return {model.__name__: await count(services, model) for model in models or CONNECTED_ROWS}
