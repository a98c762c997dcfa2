"""Mutation root: each field declares its union and delegates to resolvers/."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from resolvers import meetings, tasks
from schema.base import CtxInfo
from schema.booking import BookingMutation
from schema.connections import ConnectionsMutation
from schema.domains import DomainsMutation
from schema.errors import (
    NotFoundError,
    ProviderError,
    UnsupportedOperationError,
    ValidationError,
)
from schema.inputs import (
    CrmMeetingInput,
    TaskInput,
)
from schema.pages import PagesMutation
from schema.results import outcome
from schema.settings import SettingsMutation
from schema.types import (
    Meeting,
    Task,
)
from schema.users import UsersMutation


@strawberry.type
class MeetingSuccess:
    meeting: Meeting


@strawberry.type
class TaskSuccess:
    task: Task


TaskResult = Annotated[TaskSuccess | ValidationError | ProviderError, strawberry.union("TaskResult")]
MeetingResult = Annotated[
    MeetingSuccess | UnsupportedOperationError | NotFoundError | ValidationError | ProviderError,
    strawberry.union("MeetingResult"),
]


def _meeting_success(model: Any) -> MeetingSuccess:
    return MeetingSuccess(meeting=Meeting.from_model(model))


@strawberry.type
class Mutation(
    UsersMutation, ConnectionsMutation, SettingsMutation, PagesMutation, DomainsMutation, BookingMutation
):
    @strawberry.mutation(description="Log a meeting on a CRM contact; with calendar sync on, the contact is invited.")
    async def create_crm_meeting(self, info: CtxInfo, input: CrmMeetingInput) -> MeetingResult:
        data = meetings.CrmMeeting(
            contact_email=input.contact_email,
            title=input.title,
            start=input.start,
            end=input.end,
            from_integration=bool(input.from_integration),
        )
        return await outcome(info.context, meetings.create_crm_meeting(info.context, data), _meeting_success)

    @strawberry.mutation(description="Cancel a meeting (not possible for Exchange-linked calendars).")
    async def cancel_meeting(self, info: CtxInfo, id: strawberry.ID) -> MeetingResult:
        return await outcome(info.context, meetings.cancel_meeting(info.context, id), _meeting_success)

    @strawberry.mutation(description="Create a CRM task; with task sync on it is written to the tasks sub-calendar.")
    async def create_task(self, info: CtxInfo, input: TaskInput) -> TaskResult:
        return await outcome(
            info.context,
            tasks.create_task(info.context, input.title, input.due),
            lambda t: TaskSuccess(task=Task.from_model(t)),
        )
