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
    id: strawberry.ID = strawberry.field(description="The task's id.")
    title: str = strawberry.field(description="What is to be done.")
    due: datetime = strawberry.field(description="When it is due (UTC).")
    synced: bool = strawberry.field(description="Written to the tasks sub-calendar of the connected account.")

    @classmethod
    def from_model(cls, m: models.Task) -> Task:
        return cls(
            id=strawberry.ID(str(m.id)),
            title=m.title,
            due=m.due,
            synced=m.sync_state is models.SyncState.SYNCED,
        )


@strawberry.input(description="A CRM task to create.")
class TaskInput:
    title: str = strawberry.field(description="1 to 300 characters (trimmed).")
    due: datetime = strawberry.field(description="When it is due, with a UTC offset.")


@strawberry.type(description="The task was created.")
class TaskSuccess:
    task: Task = strawberry.field(description="The new task.")


TaskResult = Annotated[
    TaskSuccess | ValidationError | ProviderError,
    strawberry.union("TaskResult", description="The task, or why it was refused."),
]


@strawberry.type
class TasksMutation:
    @strawberry.mutation(
        description=(
            "Create a CRM task; with task sync on it is written to the tasks sub-calendar. ValidationError for "
            "an empty or too long title or a due time without UTC offset; ProviderError when the calendar refuses."
        )
    )
    async def create_task(
        self, info: CtxInfo, input: Annotated[TaskInput, strawberry.argument(description="The task.")]
    ) -> TaskResult:
        return await outcome(
            info.context,
            tasks.create_task(info.context, input.title, input.due),
            lambda t: TaskSuccess(task=Task.from_model(t)),
        )
