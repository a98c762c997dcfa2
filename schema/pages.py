"""Scheduling pages: the owner's pages, the public page a visitor sees, its slots and weekly hours."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from db import models
from resolvers import availability, pages_write, public_pages
from resolvers import pages as page_resolvers
from scheduling.page_rules import PageInput
from schema.base import CtxInfo
from schema.errors import LicenseRequiredError, NotFoundError, SlugTakenError, ValidationError
from schema.results import outcome


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


@strawberry.input
class WeeklyHoursInput:
    weekday: int = strawberry.field(description="1 = Monday ... 7 = Sunday (ISO weekday).")
    start: str = strawberry.field(description="Local wall-clock time in the page's timezone, HH:MM.")
    end: str


@strawberry.input
class SchedulingPageInput:
    name: str
    slug: str | None = None
    duration_minutes: int | None = 30
    timezone: str | None = None
    weekly_hours: list[WeeklyHoursInput] | None = None
    buffer_minutes: int | None = 0
    minimum_notice_minutes: int | None = 0


@strawberry.type
class SchedulingPageSuccess:
    page: SchedulingPage


SchedulingPageResult = Annotated[
    SchedulingPageSuccess | ValidationError | SlugTakenError | NotFoundError | LicenseRequiredError,
    strawberry.union("SchedulingPageResult"),
]


def _page_input(input: SchedulingPageInput) -> PageInput:
    return PageInput(
        name=input.name,
        slug=input.slug,
        duration_minutes=input.duration_minutes,
        timezone=input.timezone,
        weekly_hours=[(h.weekday, h.start, h.end) for h in input.weekly_hours]
        if input.weekly_hours is not None
        else None,
        buffer_minutes=input.buffer_minutes,
        minimum_notice_minutes=input.minimum_notice_minutes,
    )


def _page_success(model: models.SchedulingPage) -> SchedulingPageSuccess:
    return SchedulingPageSuccess(page=SchedulingPage.from_model(model))


@strawberry.type
class PagesQuery:
    @strawberry.field(description="A scheduling page as a visitor sees it (public).")
    async def scheduling_page(self, info: CtxInfo, slug: str, domain: str | None = None) -> PublicSchedulingPage | None:
        page = await public_pages.find_page(info.context, slug, domain)
        return PublicSchedulingPage.from_model(page) if page else None


@strawberry.type
class PagesMutation:
    @strawberry.mutation
    async def create_scheduling_page(self, info: CtxInfo, input: SchedulingPageInput) -> SchedulingPageResult:
        return await outcome(info.context, pages_write.create_page(info.context, _page_input(input)), _page_success)

    @strawberry.mutation
    async def update_scheduling_page(
        self, info: CtxInfo, id: strawberry.ID, input: SchedulingPageInput
    ) -> SchedulingPageResult:
        return await outcome(info.context, pages_write.update_page(info.context, id, _page_input(input)), _page_success)
