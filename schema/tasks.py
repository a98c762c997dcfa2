"""CRM tasks, synced into the tasks sub-calendar while task sync is on."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from db import models
from resolvers import tasks
from schema.base import CtxInfo
from schema.errors import ProviderError, ValidationError
from schema.results import outcome


@strawberry.type(description="A CRM task; synced into the tasks sub-calendar while task sync is on.")
class Task:
    id: strawberry.ID
    title: str
    due: datetime
    synced: bool

    @classmethod
    def from_model(cls, m: models.Task) -> Task:
        return cls(
            id=strawberry.ID(str(m.id)),
            title=m.title,
            due=m.due,
            synced=m.sync_state is models.SyncState.SYNCED,
        )


@strawberry.input
class TaskInput:
    title: str
    due: datetime


@strawberry.type
class TaskSuccess:
    task: Task


TaskResult = Annotated[TaskSuccess | ValidationError | ProviderError, strawberry.union("TaskResult")]


@strawberry.type
class TasksMutation:
    @strawberry.mutation(description="Create a CRM task; with task sync on it is written to the tasks sub-calendar.")
    async def create_task(self, info: CtxInfo, input: TaskInput) -> TaskResult:
        return await outcome(
            info.context,
            tasks.create_task(info.context, input.title, input.due),
            lambda t: TaskSuccess(task=Task.from_model(t)),
        )
