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


@strawberry.type
class BookingAttempt:
    id: strawberry.ID
    occurred_at: datetime
    outcome: models.BookingOutcome
    page_slug: str
    contact_email: str
    start: datetime
    message: str | None

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


@strawberry.input
class BookMeetingInput:
    slug: str
    domain: str | None = strawberry.field(
        default=None, description="The host the page was opened on; the app's own host when omitted."
    )
    start: datetime
    contact_email: str
    contact_name: str
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "Sent again with the same key (within 24 hours), the first booking's result is answered; "
            "nothing is booked twice."
        ),
    )


@strawberry.type
class BookMeetingSuccess:
    meeting: Meeting


BookMeetingResult = Annotated[
    BookMeetingSuccess
    | SlotUnavailableError
    | CalendarAccessLostError
    | PagesDisabledError
    | NotFoundError
    | ValidationError
    | ProviderError,
    strawberry.union("BookMeetingResult"),
]


@strawberry.type
class BookingMutation:
    @strawberry.mutation(description="Book a slot of a scheduling page (public).")
    async def book_meeting(self, info: CtxInfo, input: BookMeetingInput) -> BookMeetingResult:
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
    @strawberry.subscription(description="Every attempt to book any of the caller's scheduling pages, as it happens.")
    async def booking_attempts(self, info: CtxInfo) -> AsyncGenerator[BookingAttempt, None]:
        user = info.context.require_user()
        async for attempt in attempts.stream(info.context.services, user.id):
            await info.context.authenticate_again()  # a revoked token receives nothing more
            info.context.require_user()
            yield BookingAttempt.from_model(attempt)
