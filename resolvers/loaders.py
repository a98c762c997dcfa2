"""Per-request dataloaders: one query per field per request, results in key order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Generic, TypeVar

from aiodataloader import DataLoader
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import (
    Calendar,
    CalendarConnection,
    CalendarSettings,
    Domain,
    EmailInbox,
    SchedulingPage,
    Task,
)

M = TypeVar("M", bound=SQLModel)
V = TypeVar("V")

SessionScope = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""The request's `Context.db`: one transaction on the request's session."""


class _RequestLoader(DataLoader[uuid.UUID, V], Generic[V]):
    """A loader on the request's session whose shared futures survive a cancelled caller.

    Every caller of one key awaits the same future; graphql-core cancels a failed field's siblings,
    and a cancelled task cancels the future it awaits: shielded, the other callers still get the rows.
    """

    def __init__(self, db: SessionScope) -> None:
        super().__init__()
        self.db = db

    def load(self, key: uuid.UUID) -> asyncio.Future[V]:
        return asyncio.shield(super().load(key))


class _ByKeyLoader(_RequestLoader[M | None], Generic[M]):
    """One row per key (the model's primary key, or a unique column)."""

    model: ClassVar[type[SQLModel]]
    column: ClassVar[str] = "id"

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[M | None]:
        column = getattr(self.model, self.column)
        async with self.db() as session:
            rows = (await session.exec(select(self.model).where(col(column).in_(keys)))).all()
        found: dict[Any, Any] = {getattr(row, self.column): row for row in rows}
        return [found.get(key) for key in keys]


class _ListByKeyLoader(_RequestLoader[list[M]], Generic[M]):
    """All rows whose `column` equals the key, in `order` order."""

    model: ClassVar[type[SQLModel]]
    column: ClassVar[str]
    order: ClassVar[str] = "id"

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[M]]:
        column = getattr(self.model, self.column)
        async with self.db() as session:
            rows = (
                await session.exec(
                    select(self.model).where(col(column).in_(keys)).order_by(getattr(self.model, self.order))
                )
            ).all()
        grouped: dict[Any, list[Any]] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, self.column)].append(row)
        return [grouped.get(key, []) for key in keys]


class SchedulingPageByIdLoader(_ByKeyLoader[SchedulingPage]):
    model = SchedulingPage


class DomainByIdLoader(_ByKeyLoader[Domain]):
    model = Domain


class CalendarSettingsByUserLoader(_ByKeyLoader[CalendarSettings]):
    model = CalendarSettings
    column = "user_id"


class CalendarConnectionsByUserLoader(_ListByKeyLoader[CalendarConnection]):
    model = CalendarConnection
    column = "user_id"
    order = "slot"


class CalendarsByConnectionLoader(_ListByKeyLoader[Calendar]):
    model = Calendar
    column = "connection_id"
    order = "name"


class EmailInboxesByUserLoader(_ListByKeyLoader[EmailInbox]):
    model = EmailInbox
    column = "user_id"
    order = "address"


class SchedulingPagesByUserLoader(_ListByKeyLoader[SchedulingPage]):
    model = SchedulingPage
    column = "user_id"
    order = "created_at"


class TasksByUserLoader(_ListByKeyLoader[Task]):
    model = Task
    column = "user_id"
    order = "due"


class CalendarsByUserLoader(_RequestLoader[list[Calendar]]):
    """Every calendar of every connection of a user."""

    async def batch_load_fn(self, keys: list[uuid.UUID]) -> list[list[Calendar]]:
        async with self.db() as session:
            rows = (
                await session.exec(
                    select(CalendarConnection.user_id, Calendar)
                    .join(CalendarConnection, col(Calendar.connection_id) == CalendarConnection.id)
                    .where(col(CalendarConnection.user_id).in_(keys))
                    .order_by(col(CalendarConnection.slot), col(Calendar.name))
                )
            ).all()
        grouped: dict[uuid.UUID, list[Calendar]] = defaultdict(list)
        for user_id, calendar in rows:
            grouped[user_id].append(calendar)
        return [grouped.get(key, []) for key in keys]


class Loaders:
    """The request's loaders; a fresh set per request so nothing is cached across callers."""

    def __init__(self, db: SessionScope) -> None:
        self.page_by_id = SchedulingPageByIdLoader(db)
        self.domain_by_id = DomainByIdLoader(db)
        self.settings_by_user = CalendarSettingsByUserLoader(db)
        self.connections_by_user = CalendarConnectionsByUserLoader(db)
        self.calendars_by_connection = CalendarsByConnectionLoader(db)
        self.calendars_by_user = CalendarsByUserLoader(db)
        self.inboxes_by_user = EmailInboxesByUserLoader(db)
        self.pages_by_user = SchedulingPagesByUserLoader(db)
        self.tasks_by_user = TasksByUserLoader(db)
