"""GraphQL object types: declarations only; every computed field delegates to resolvers/."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import models
from resolvers import availability
from resolvers import pages as page_resolvers
from schema.base import CtxInfo


@strawberry.type
class Domain:
    id: strawberry.ID
    hostname: str
    robots_disallow_meetings: bool = strawberry.field(
        description="Whether this domain's /robots.txt disallows /meetings*."
    )

    @classmethod
    def from_model(cls, m: models.Domain) -> Domain:
        return cls(
            id=strawberry.ID(str(m.id)),
            hostname=m.hostname,
            robots_disallow_meetings=m.robots_disallow_meetings,
        )


@strawberry.type
class Slot:
    start: datetime
    end: datetime


@strawberry.interface(description="The fields an owner and a visitor both see of a scheduling page.")
class SchedulingPageFields:
    name: str
    slug: str
    duration_minutes: int
    timezone: str
    _model: strawberry.Private[models.SchedulingPage]

    @strawberry.field
    async def url(self, info: CtxInfo) -> str:
        return await page_resolvers.page_url(info.context, self._model)

    @strawberry.field
    async def active(self, info: CtxInfo) -> bool:
        return (await page_resolvers.page_state(info.context, self._model)).active

    @strawberry.field(description="True while the owner has no connected calendar: bookings become requests.")
    async def offline(self, info: CtxInfo) -> bool:
        return (await page_resolvers.page_state(info.context, self._model)).offline

    @strawberry.field
    async def available_slots(self, info: CtxInfo, start: datetime, end: datetime) -> list[Slot]:
        slots = await availability.slots_for_page(info.context, self._model, start, end)
        return [Slot(start=s.start, end=s.end) for s in slots]


@strawberry.type
class WeeklyHours:
    weekday: int = strawberry.field(description="1 = Monday ... 7 = Sunday (ISO weekday).")
    start: str
    end: str


@strawberry.type
class SchedulingPage(SchedulingPageFields):
    id: strawberry.ID
    buffer_minutes: int
    minimum_notice_minutes: int
    weekly_hours: list[WeeklyHours]

    @classmethod
    def from_model(cls, m: models.SchedulingPage) -> SchedulingPage:
        return cls(
            id=strawberry.ID(str(m.id)),
            name=m.name,
            slug=m.slug,
            duration_minutes=m.duration_minutes,
            timezone=m.timezone,
            buffer_minutes=m.buffer_minutes,
            minimum_notice_minutes=m.minimum_notice_minutes,
            weekly_hours=[WeeklyHours(**h) for h in m.weekly_hours],
            _model=m,
        )


@strawberry.type(description="What an anonymous visitor of a scheduling page may see.")
class PublicSchedulingPage(SchedulingPageFields):
    @classmethod
    def from_model(cls, m: models.SchedulingPage) -> PublicSchedulingPage:
        return cls(
            name=m.name,
            slug=m.slug,
            duration_minutes=m.duration_minutes,
            timezone=m.timezone,
            _model=m,
        )


@strawberry.type
class Meeting:
    id: strawberry.ID
    start: datetime
    end: datetime
    status: models.MeetingStatus
    contact_email: str
    contact_name: str
    title: str
    sync_state: models.SyncState = strawberry.field(
        description="NOT_SYNCED (nothing to write), PENDING (being written, retried), SYNCED, FAILED."
    )
    page_id: strawberry.ID | None

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
        )


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
