"""What every domain module shares: the resolver info type, the enums registered with Strawberry and the
DateTime scalar."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

import strawberry
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types import Info
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.scalar import ScalarDefinition

from db import models
from meetgraph.context import Context
from scheduling.calendars import ProviderKind

CtxInfo = Info[Context, None]

E = TypeVar("E", bound=enum.Enum)

RFC_3339 = "https://datatracker.ietf.org/doc/html/rfc3339"

# Strawberry's own DateTime (same parsing and serialization), documented and with @specifiedBy, so codegen
# and GraphiQL know the format; build_schema passes it as the override of `datetime`.
DateTime: ScalarDefinition = dataclasses.replace(
    DateTimeDefinition,
    description=(
        "An instant as an RFC 3339 date-time string. Answers are always UTC with an explicit offset, "
        "e.g. `2026-12-07T09:00:00+00:00` (fractions of a second when there are any). Inputs must carry "
        "an offset (`Z` or `+01:00`); a value without one is refused, naming the field."
    ),
    specified_by_url=RFC_3339,
)
SCALAR_OVERRIDES: Mapping[object, ScalarDefinition] = {datetime: DateTime}


def _graphql_enum(cls: type[E], *, description: str, values: Mapping[E, str], name: str | None = None) -> type[E]:
    """Register a domain enum with Strawberry, each value with its description (the domain layer knows no
    GraphQL, so the descriptions are given here); every member must be described."""
    strawberry.enum(cls, name=name, description=description)
    if set(values) != set(cls):
        raise ValueError(f"{cls.__name__}: describe exactly its members, got {sorted(v.name for v in values)}")
    definition: StrawberryEnumDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    definition.values = [dataclasses.replace(v, description=values[cls[v.name]]) for v in definition.values]
    return cls


# The model enums are the GraphQL enums: registered here, used as annotations directly.
CalendarProvider = _graphql_enum(
    ProviderKind,
    name="CalendarProvider",
    description="The calendar service behind a connection.",
    values={
        ProviderKind.GOOGLE: "Google Calendar (Gmail and G Suite accounts); connected by OAuth "
        "(startCalendarConnection).",
        ProviderKind.OFFICE365: "Office 365 (Outlook); connected by OAuth (startCalendarConnection).",
        ProviderKind.EXCHANGE: "Exchange 2010 SP2 or later over EWS; connected with email and password "
        "(connectExchangeCalendar). No cancelling, rescheduling or two-way sync.",
    },
)
ConnectionStatus = _graphql_enum(
    models.ConnectionStatus,
    description="Whether the server can still reach a calendar connection or calendar.",
    values={
        models.ConnectionStatus.ACTIVE: "Access works.",
        models.ConnectionStatus.INACTIVE: "Access was lost (revoked or expired at the provider). While an "
        "availability calendar is inactive nobody can book the owner's pages; it stays so until access "
        "returns or the owner removes it (removeInactiveCalendar).",
    },
)
Hub = _graphql_enum(
    models.Hub,
    description="The CRM hub of a user's seat; with SeatTier and paidSeat it decides the licensed features.",
    values={
        models.Hub.NONE: "No hub seat: no meeting URL prefix, no task sync.",
        models.Hub.SALES: "A Sales Hub seat.",
        models.Hub.SERVICE: "A Service Hub seat.",
    },
)
SeatTier = _graphql_enum(
    models.SeatTier,
    description="The tier of a user's seat. A paid Sales or Service Hub seat of STARTER or above may set a "
    "meeting URL prefix; PROFESSIONAL or ENTERPRISE may also turn on task sync.",
    values={
        models.SeatTier.FREE: "Free tools only.",
        models.SeatTier.STARTER: "Starter: with a paid Sales or Service Hub seat, the meeting URL prefix.",
        models.SeatTier.PROFESSIONAL: "Professional: with a paid Sales or Service Hub seat, the meeting URL "
        "prefix and task sync.",
        models.SeatTier.ENTERPRISE: "Enterprise: with a paid Sales or Service Hub seat, the meeting URL "
        "prefix and task sync.",
    },
)
MeetingStatus = _graphql_enum(
    models.MeetingStatus,
    description="Where a meeting stands.",
    values={
        models.MeetingStatus.BOOKED: "Booked from a page or logged on a CRM contact; it holds its time.",
        models.MeetingStatus.REQUESTED: "Requested on a page in offline mode (the owner had no connected "
        "calendar): in no calendar, the owner is notified; it holds its time.",
        models.MeetingStatus.CANCELLED: "Cancelled (cancelMeeting); its time is free again.",
    },
)
BookingAttemptOutcome = _graphql_enum(
    models.BookingOutcome,
    name="BookingAttemptOutcome",
    description="What became of one attempt to book a scheduling page.",
    values={
        models.BookingOutcome.BOOKED: "A meeting was booked (BookMeetingSuccess, status BOOKED).",
        models.BookingOutcome.REQUESTED: "The page was offline: a REQUESTED meeting was stored.",
        models.BookingOutcome.BLOCKED_CALENDAR_ACCESS: "Refused: access to one of the owner's availability "
        "calendars is lost (CalendarAccessLostError); the owner is emailed.",
        models.BookingOutcome.SLOT_UNAVAILABLE: "Refused: the time is not offered or was just taken "
        "(SlotUnavailableError), or the calendar could not be checked (ProviderError; see message).",
        models.BookingOutcome.PAGES_DISABLED: "Refused: the owner's pages are deactivated (PagesDisabledError).",
    },
)
MeetingSyncState = _graphql_enum(
    models.SyncState,
    name="MeetingSyncState",
    description="Whether a meeting is in the calendar.",
    values={
        models.SyncState.NOT_SYNCED: "Nothing is to be written to a calendar (offline request, sync off, "
        "created by an integration).",
        models.SyncState.PENDING: "To be written to the calendar; retried until it is.",
        models.SyncState.SYNCED: "Written to the owner's calendar.",
        models.SyncState.FAILED: "The provider refused for good; the meeting is kept but is not in the calendar.",
    },
)
