"""Calendars of other mailboxes, added to a connection by address (Exchange: EWS cannot list them)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db import models
from resolvers import shared_calendars
from schema.base import CtxInfo
from schema.connections import Calendar, DisconnectSuccess
from schema.errors import (
    CalendarNotSharedError,
    NotFoundError,
    ProviderError,
    UnsupportedOperationError,
    ValidationError,
)
from schema.results import outcome


@strawberry.type(description="The other mailbox's calendar is now one of the connection's calendars.")
class AddSharedCalendarSuccess:
    calendar: Calendar = strawberry.field(
        description=(
            "The added calendar, named after the mailbox's folder and address (e.g. `Calendar (bob@example.com)`); "
            "choose it with saveCalendarSettings(availabilityCalendarIds) to have its busy time checked."
        )
    )


AddSharedCalendarResult = Annotated[
    AddSharedCalendarSuccess
    | ValidationError
    | CalendarNotSharedError
    | NotFoundError
    | UnsupportedOperationError
    | ProviderError,
    strawberry.union("AddSharedCalendarResult", description="The added calendar, or why nothing was added."),
]
RemoveSharedCalendarResult = Annotated[
    DisconnectSuccess | NotFoundError | ValidationError,
    strawberry.union("RemoveSharedCalendarResult", description="The removed calendar's id, or why it stays."),
]


def _added(calendar: models.Calendar) -> AddSharedCalendarSuccess:
    return AddSharedCalendarSuccess(calendar=Calendar.from_model(calendar))


@strawberry.type
class SharedCalendarsMutation:
    @strawberry.mutation(
        description=(
            "Add the calendar of another mailbox the connected account can read, by the mailbox's address "
            "(Exchange: the mailbox's Calendar folder, shared with the account with at least Reviewer permission). "
            "It is then listed with the connection's calendars and can be chosen as an availability calendar; "
            "losing access to it later has the usual effect (pages blocked, owner emailed, calendar INACTIVE). "
            "ValidationError (field `address`) for a malformed address, the account's own, or a calendar already "
            "added; CalendarNotSharedError when the account cannot read that calendar with event details (or there "
            "is no such mailbox); NotFoundError when the connection is not the caller's; UnsupportedOperationError "
            "for Google and Office 365 (their shared calendars are listed when connecting); ProviderError when the "
            "server cannot be reached or the account's access is lost."
        )
    )
    async def add_shared_calendar(
        self,
        info: CtxInfo,
        connection_id: Annotated[strawberry.ID, strawberry.argument(description="CalendarConnection.id.")],
        address: Annotated[
            str, strawberry.argument(description="The other mailbox's email address, e.g. bob@example.com.")
        ],
    ) -> AddSharedCalendarResult:
        return await outcome(
            info.context, shared_calendars.add_shared_calendar(info.context, connection_id, address), _added
        )

    @strawberry.mutation(
        description=(
            "Remove a calendar shared with the connected account (one added with addSharedCalendar, or listed "
            "when connecting), active or inactive; it is no longer checked for busy time. NotFoundError when the "
            "calendar is not the caller's; ValidationError (field `calendarId`) for a calendar the account owns."
        )
    )
    async def remove_shared_calendar(
        self,
        info: CtxInfo,
        calendar_id: Annotated[strawberry.ID, strawberry.argument(description="Calendar.id.")],
    ) -> RemoveSharedCalendarResult:
        return await outcome(
            info.context,
            shared_calendars.remove_shared_calendar(info.context, calendar_id),
            lambda key: DisconnectSuccess(id=strawberry.ID(str(key))),
        )
