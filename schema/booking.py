"""Booking a scheduling page's slot, and the attempts to book (listed and streamed)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from db import models
from resolvers import attempts, booking
from schema.base import CtxInfo
from schema.errors import (
    CalendarAccessLostError,
    NotFoundError,
    PagesDisabledError,
    ProviderError,
    SlotUnavailableError,
    ValidationError,
)
from schema.meetings import Meeting
from schema.results import outcome


@strawberry.type(description="One attempt to book one of the user's scheduling pages, whatever came of it.")
class BookingAttempt:
    id: strawberry.ID = strawberry.field(description="The attempt's id; the subscription never sends one twice.")
    occurred_at: datetime = strawberry.field(description="When the visitor tried (UTC).")
    outcome: models.BookingOutcome = strawberry.field(description="What became of it.")
    page_slug: str = strawberry.field(description="The slug of the page the visitor used.")
    contact_email: str = strawberry.field(description="The visitor's email address, lower case.")
    start: datetime = strawberry.field(description="The start the visitor asked for (UTC).")
    message: str | None = strawberry.field(
        description="Why it was refused, for the owner (e.g. `access lost to Team calendar`); null when booked or requested."
    )

    @classmethod
    def from_model(cls, m: models.BookingAttempt) -> BookingAttempt:
        return cls(
            id=strawberry.ID(str(m.id)),
            occurred_at=m.occurred_at,
            outcome=m.outcome,
            page_slug=m.page_slug,
            contact_email=m.contact_email,
            start=m.start,
            message=m.message,
        )


@strawberry.input(description="A visitor's booking of one slot of a scheduling page.")
class BookMeetingInput:
    slug: str = strawberry.field(description="The page's slug, the part of its URL after `/meetings/`.")
    domain: str | None = strawberry.field(
        default=None, description="The host the page was opened on; the app's own host when omitted."
    )
    start: datetime = strawberry.field(
        description="The slot's start as availableSlots gave it, with a UTC offset; the page's duration follows."
    )
    contact_email: str = strawberry.field(description="The visitor's email address (at most 254 characters).")
    contact_name: str = strawberry.field(description="The visitor's name, 1 to 200 characters (trimmed).")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "Sent again with the same key (within 24 hours), the first booking's result is answered; "
            "nothing is booked twice. At most 255 characters; a random UUID per booking form is a good key. "
            "Reused for a different booking: ValidationError."
        ),
    )


@strawberry.type(description="The slot is booked (or requested, when the page is offline).")
class BookMeetingSuccess:
    meeting: Meeting = strawberry.field(description="The meeting: status BOOKED, or REQUESTED for an offline page.")


BookMeetingResult = Annotated[
    BookMeetingSuccess
    | SlotUnavailableError
    | CalendarAccessLostError
    | PagesDisabledError
    | NotFoundError
    | ValidationError
    | ProviderError,
    strawberry.union("BookMeetingResult", description="The booked meeting, or why the visitor could not book."),
]


@strawberry.type
class BookingMutation:
    @strawberry.mutation(
        description=(
            "Book a slot of a scheduling page (public: no token needed). The slot is checked again against the "
            "calendars at this moment; two visitors never get the same slot. Every attempt is recorded and "
            "streamed to the owner (bookingAttempts). SlotUnavailableError when the time is not offered or was "
            "just taken; CalendarAccessLostError while the owner's calendar access is lost; PagesDisabledError "
            "when the owner deactivated their pages; NotFoundError when no page has this slug on this domain; "
            "ValidationError for a malformed email or name, a start without UTC offset or a reused "
            "idempotencyKey; ProviderError when the calendar could not be checked (try again)."
        )
    )
    async def book_meeting(
        self, info: CtxInfo, input: Annotated[BookMeetingInput, strawberry.argument(description="The booking.")]
    ) -> BookMeetingResult:
        request = booking.BookingRequest(
            slug=input.slug,
            domain=input.domain,
            start=input.start,
            contact_email=input.contact_email,
            contact_name=input.contact_name,
            idempotency_key=input.idempotency_key,
        )
        return await outcome(
            info.context,
            booking.book(info.context, request),
            lambda m: BookMeetingSuccess(meeting=Meeting.from_model(m)),
        )


@strawberry.type
class BookingSubscription:
    @strawberry.subscription(
        description=(
            "Every attempt to book any of the caller's scheduling pages, as it happens (needs the token; over "
            "WebSocket, graphql-transport-ws). After a reconnect, read User.bookingAttempts to catch up."
        )
    )
    async def booking_attempts(self, info: CtxInfo) -> AsyncGenerator[BookingAttempt, None]:
        user = info.context.require_user()
        async for attempt in attempts.stream(info.context.services, user.id):
            await info.context.authenticate_again()  # a revoked token receives nothing more
            info.context.require_user()
            yield BookingAttempt.from_model(attempt)
