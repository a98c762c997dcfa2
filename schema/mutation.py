"""Mutation root: each field declares its union and delegates to resolvers/."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import tasks
from schema.base import CtxInfo
from schema.booking import BookingMutation
from schema.connections import ConnectionsMutation
from schema.domains import DomainsMutation
from schema.errors import (
    ProviderError,
    ValidationError,
)
from schema.inputs import (
    TaskInput,
)
from schema.meetings import MeetingsMutation
from schema.pages import PagesMutation
from schema.results import outcome
from schema.settings import SettingsMutation
from schema.types import (
    Task,
)
from schema.users import UsersMutation


@strawberry.type
class TaskSuccess:
    task: Task


TaskResult = Annotated[TaskSuccess | ValidationError | ProviderError, strawberry.union("TaskResult")]


@strawberry.type
class Mutation(
    UsersMutation,
    ConnectionsMutation,
    SettingsMutation,
    PagesMutation,
    DomainsMutation,
    BookingMutation,
    MeetingsMutation,
):
    @strawberry.mutation(description="Create a CRM task; with task sync on it is written to the tasks sub-calendar.")
    async def create_task(self, info: CtxInfo, input: TaskInput) -> TaskResult:
        return await outcome(
            info.context,
            tasks.create_task(info.context, input.title, input.due),
            lambda t: TaskSuccess(task=Task.from_model(t)),
        )
