"""What every domain module shares: the resolver info type and the enums registered with Strawberry."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from db import models
from meetgraph.context import Context
from scheduling.calendars import ProviderKind

CtxInfo = Info[Context, None]

# The model enums are the GraphQL enums: registered here, used as annotations directly.
CalendarProvider = strawberry.enum(ProviderKind, name="CalendarProvider")
ConnectionStatus = strawberry.enum(models.ConnectionStatus)
Hub = strawberry.enum(models.Hub)
SeatTier = strawberry.enum(models.SeatTier)
MeetingStatus = strawberry.enum(models.MeetingStatus)
BookingAttemptOutcome = strawberry.enum(
    models.BookingOutcome,
    name="BookingAttemptOutcome",
    description="What became of one attempt to book a scheduling page.",
)
MeetingSyncState = strawberry.enum(
    models.SyncState, name="MeetingSyncState", description="Whether a meeting is in the calendar."
)
