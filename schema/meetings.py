"""Meetings: the caller's meetings, CRM meetings and cancelling."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import strawberry

from db import models
from resolvers import meetings, reschedule
from schema.base import CtxInfo
from schema.errors import (
    NotFoundError,
    ProviderError,
    SlotUnavailableError,
    UnsupportedOperationError,
    ValidationError,
)
from schema.results import outcome


@strawberry.enum(description="Where a meeting came from.")
class MeetingSource(enum.Enum):
    PAGE = strawberry.enum_value("PAGE", description="Booked by a visitor on a scheduling page.")
    CRM = strawberry.enum_value("CRM", description="Created on a CRM contact record (createCrmMeeting).")
    CALENDAR = strawberry.enum_value(
        "CALENDAR",
        description="Created in the connected Google or Office 365 calendar with a contact invited, and synced in.",
    )

    @classmethod
    def of(cls, source: models.MeetingSource) -> MeetingSource:
        """A meeting logged by an integration is a CRM meeting to the API."""
        return cls.CRM if source is models.MeetingSource.INTEGRATION else cls(source.value)


@strawberry.type(description="A meeting of the user: booked on a scheduling page or logged on a CRM contact.")
class Meeting:
    id: strawberry.ID = strawberry.field(description="Pass to cancelMeeting or rescheduleMeeting.")
    start: datetime = strawberry.field(description="When it starts (UTC); show it in the viewer's time zone.")
    end: datetime = strawberry.field(description="When it ends (UTC), after start and at most 24 hours later.")
    status: models.MeetingStatus = strawberry.field(description="Booked, requested (offline page) or cancelled.")
    contact_email: str = strawberry.field(description="The contact's email address, lower case.")
    contact_name: str = strawberry.field(
        description="The name the visitor gave when booking; empty for meetings logged on CRM records."
    )
    title: str = strawberry.field(
        description="`<page name> with <visitor name>` for bookings; the given title for CRM meetings."
    )
    sync_state: models.SyncState = strawberry.field(
        description="NOT_SYNCED (nothing to write), PENDING (being written, retried), SYNCED, FAILED."
    )
    page_id: strawberry.ID | None = strawberry.field(
        description="The scheduling page it was booked on; null for CRM meetings or when the page was deleted."
    )
    source: MeetingSource = strawberry.field(description="Where it came from: a page, the CRM, or the calendar.")

    @classmethod
    def from_model(cls, m: models.Meeting) -> Meeting:
        return cls(
            id=strawberry.ID(str(m.id)),
            start=m.start,
            end=m.end,
            status=m.status,
            contact_email=m.contact_email,
            contact_name=m.contact_name,
            title=m.title,
            sync_state=m.sync_state,
            page_id=strawberry.ID(str(m.page_id)) if m.page_id else None,
            source=MeetingSource.of(m.source),
        )


@strawberry.input(description="A meeting to log on a CRM contact record.")
class CrmMeetingInput:
    contact_email: str = strawberry.field(description="The contact's email address; invited when the meeting syncs.")
    title: str = strawberry.field(description="1 to 300 characters (trimmed).")
    start: datetime = strawberry.field(description="With a UTC offset; the caller may have one live meeting per start.")
    end: datetime = strawberry.field(description="With a UTC offset; after start and at most 24 hours later.")
    from_integration: bool | None = strawberry.field(
        default=False, description="Created by an integration: logged only, never synced to a calendar."
    )


@strawberry.type(description="The meeting as it is now.")
class MeetingSuccess:
    meeting: Meeting = strawberry.field(description="The created, cancelled or rescheduled meeting.")


MeetingResult = Annotated[
    MeetingSuccess | UnsupportedOperationError | NotFoundError | ValidationError | ProviderError | SlotUnavailableError,
    strawberry.union("MeetingResult", description="The meeting, or why nothing changed."),
]


def _meeting_success(model: models.Meeting) -> MeetingSuccess:
    return MeetingSuccess(meeting=Meeting.from_model(model))


@strawberry.type
class MeetingsMutation:
    @strawberry.mutation(
        description=(
            "Log a meeting on a CRM contact; with calendar sync on (and a Google or Office 365 calendar "
            "connected) it is written to the primary calendar and the contact is invited (syncState PENDING, "
            "then SYNCED). ValidationError for a malformed email or title, a time without UTC offset, an end "
            "not after start or more than 24 hours later, or a start where the caller already has a meeting; "
            "ProviderError when the calendar refuses."
        )
    )
    async def create_crm_meeting(
        self, info: CtxInfo, input: Annotated[CrmMeetingInput, strawberry.argument(description="The meeting.")]
    ) -> MeetingResult:
        data = meetings.CrmMeeting(
            contact_email=input.contact_email,
            title=input.title,
            start=input.start,
            end=input.end,
            from_integration=bool(input.from_integration),
        )
        return await outcome(info.context, meetings.create_crm_meeting(info.context, data), _meeting_success)

    @strawberry.mutation(
        description=(
            "Cancel a meeting; its calendar event is then removed (the provider tells the contact). "
            "UnsupportedOperationError for meetings in an Exchange-linked calendar; ValidationError (field `id`) "
            "when it is already cancelled; NotFoundError when it is not the caller's."
        )
    )
    async def cancel_meeting(
        self, info: CtxInfo, id: Annotated[strawberry.ID, strawberry.argument(description="Meeting.id.")]
    ) -> MeetingResult:
        return await outcome(info.context, meetings.cancel_meeting(info.context, id), _meeting_success)

    @strawberry.mutation(
        description=(
            "Move a meeting to a new start (same duration). Google and Office 365: the calendar event is "
            "updated in place (same event id, only its time changes: a meeting synced in from the calendar keeps "
            "its other attendees and text) and the attendees notified. Exchange: UnsupportedOperationError. "
            "The new time is checked like a booking (live calendar busy time, the caller's other meetings and, "
            "for page bookings, the page's hours, notice and buffer): SlotUnavailableError when it is not free. "
            "ValidationError (field `start`) for a time without UTC offset or in the past, (field `id`) for a "
            "cancelled meeting; NotFoundError when it is not the caller's; ProviderError when the calendar "
            "cannot be checked. Nothing changes on any error."
        )
    )
    async def reschedule_meeting(
        self,
        info: CtxInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="Meeting.id.")],
        start: Annotated[datetime, strawberry.argument(description="The new start, with a UTC offset.")],
    ) -> MeetingResult:
        return await outcome(info.context, reschedule.reschedule_meeting(info.context, id, start), _meeting_success)


@strawberry.type(description="Where a page of a connection ends, and whether more follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether a page follows this one (ask with after: endCursor).")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor; null when the page is empty.")


@strawberry.type(description="One meeting of a MeetingConnection, with its place in the order.")
class MeetingEdge:
    cursor: str = strawberry.field(description="An opaque position: pass it as `after` for the meetings that follow.")
    node: Meeting = strawberry.field(description="The meeting.")


@strawberry.type(description="A page of meetings (newest start first) with the total the query matches.")
class MeetingConnection:
    edges: list[MeetingEdge] = strawberry.field(description="This page's meetings, newest start first.")
    page_info: PageInfo = strawberry.field(description="Whether more follows, and from where.")
    total_count: int = strawberry.field(description="How many meetings match the status filter, over all pages.")

    @classmethod
    def from_page(cls, page: meetings.MeetingPage) -> MeetingConnection:
        edges = [MeetingEdge(cursor=meetings.encode_cursor(m), node=Meeting.from_model(m)) for m in page.meetings]
        return cls(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None),
            total_count=page.total_count,
        )
