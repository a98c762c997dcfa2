"""Scheduling pages: the owner's pages, the public page a visitor sees, its slots and weekly hours."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from db import models
from resolvers import availability, pages_write, public_pages, slots_feed
from resolvers import pages as page_resolvers
from scheduling.page_rules import PageInput
from schema.base import CtxInfo
from schema.errors import LicenseRequiredError, NotFoundError, SlugTakenError, ValidationError
from schema.results import outcome


@strawberry.type(description="A bookable time: from start (inclusive) to end (exclusive), one page duration long.")
class Slot:
    start: datetime = strawberry.field(description="The slot's start (UTC); pass it as BookMeetingInput.start.")
    end: datetime = strawberry.field(description="The slot's end (UTC): start plus the page's durationMinutes.")


@strawberry.interface(description="The fields an owner and a visitor both see of a scheduling page.")
class SchedulingPageFields:
    name: str = strawberry.field(description="The page's title, 1 to 200 characters.")
    slug: str = strawberry.field(
        description="The page's path after `/meetings/`: a-z, 0-9 and '-', optionally `<prefix>/<name>`; unique across all domains."
    )
    duration_minutes: int = strawberry.field(description="How long a booked meeting is, in minutes (5 to 720).")
    timezone: str = strawberry.field(
        description="The IANA time zone (e.g. `Europe/Berlin`) the weekly hours are in; show slots to visitors in it or in theirs."
    )
    _model: strawberry.Private[models.SchedulingPage]

    @strawberry.field(
        description=(
            "The page's public URL, `<host>/meetings/<slug>`: on the owner's meeting domain "
            "(`https://<hostname>`) when one is set, else on the app's public URL."
        )
    )
    async def url(self, info: CtxInfo) -> str:
        return await page_resolvers.page_url(info.context, self._model)

    @strawberry.field(
        description="False while the owner has deactivated their scheduling pages: no slots, bookings refused."
    )
    async def active(self, info: CtxInfo) -> bool:
        return (await page_resolvers.page_state(info.context, self._model)).active

    @strawberry.field(
        description=(
            "True while the owner has no connected calendar (or scheduling pages are off in their settings): "
            "bookings become REQUESTED meetings in no calendar, and the owner is notified."
        )
    )
    async def offline(self, info: CtxInfo) -> bool:
        return (await page_resolvers.page_state(info.context, self._model)).offline

    @strawberry.field(
        description=(
            "The times a visitor can book between start and end, earliest first: the page's weekly hours in "
            "its time zone (DST-correct), minus the owner's busy time with the buffer around it, minus anything "
            "before now plus the minimum notice. Empty while the page is inactive or a calendar's access is "
            "lost. A window without UTC offset, with end not after start, or longer than 62 days is a "
            "BAD_USER_INPUT error; a calendar that cannot be read is a PROVIDER_UNAVAILABLE error."
        )
    )
    async def available_slots(
        self,
        info: CtxInfo,
        start: Annotated[
            datetime, strawberry.argument(description="The window's start, with a UTC offset (inclusive).")
        ],
        end: Annotated[
            datetime,
            strawberry.argument(description="The window's end, with a UTC offset; at most 62 days after start."),
        ],
    ) -> list[Slot]:
        slots = await availability.slots_for_page(info.context, self._model, start, end)
        return [Slot(start=s.start, end=s.end) for s in slots]


@strawberry.type(description="One interval of a page's bookable hours on one weekday, in the page's time zone.")
class WeeklyHours:
    weekday: int = strawberry.field(description="1 = Monday ... 7 = Sunday (ISO weekday).")
    start: str = strawberry.field(description="Local wall-clock time in the page's timezone, HH:MM.")
    end: str = strawberry.field(
        description="Local wall-clock time in the page's timezone, HH:MM; `24:00` for midnight."
    )


@strawberry.type(description="A scheduling page as its owner sees it, with the settings visitors do not see.")
class SchedulingPage(SchedulingPageFields):
    id: strawberry.ID = strawberry.field(description="Pass to updateSchedulingPage or as a meeting link id.")
    buffer_minutes: int = strawberry.field(description="Minutes kept free before and after busy time, 0 to 1440.")
    minimum_notice_minutes: int = strawberry.field(
        description="No slot starts sooner than this many minutes from now, 0 to 86400 (60 days)."
    )
    weekly_hours: list[WeeklyHours] = strawberry.field(description="The bookable hours, by weekday and start.")

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


@strawberry.input(description="One interval of bookable hours; intervals of the same weekday must not overlap.")
class WeeklyHoursInput:
    weekday: int = strawberry.field(description="1 = Monday ... 7 = Sunday (ISO weekday).")
    start: str = strawberry.field(description="Local wall-clock time in the page's timezone, HH:MM.")
    end: str = strawberry.field(
        description="Local wall-clock time in the page's timezone, HH:MM after start; `24:00` for midnight."
    )


@strawberry.input(
    description=(
        "A scheduling page's settings. On update every field is applied, so send the page's current values "
        "for those to keep: only slug, timezone and weeklyHours are kept when omitted."
    )
)
class SchedulingPageInput:
    name: str = strawberry.field(description="The page's title, 1 to 200 characters (trimmed).")
    slug: str | None = strawberry.field(
        default=None,
        description=(
            "a-z, 0-9 and '-' (one '/' after a prefix), 1-200 characters. When omitted on creation it is made "
            "from the meeting URL prefix and the name, with -2, -3, ... if taken."
        ),
    )
    duration_minutes: int | None = strawberry.field(default=30, description="Meeting length in minutes, 5 to 720.")
    timezone: str | None = strawberry.field(
        default=None,
        description="IANA time zone of the weekly hours, e.g. `Europe/Berlin`; the user's time zone when omitted on creation.",
    )
    weekly_hours: list[WeeklyHoursInput] | None = strawberry.field(
        default=None,
        description="The bookable hours; Monday to Friday 09:00-17:00 when omitted on creation.",
    )
    buffer_minutes: int | None = strawberry.field(
        default=0, description="Minutes kept free before and after busy time, 0 to 1440."
    )
    minimum_notice_minutes: int | None = strawberry.field(
        default=0, description="No slot starts sooner than this many minutes from now, 0 to 86400 (60 days)."
    )


@strawberry.type(description="The page was saved.")
class SchedulingPageSuccess:
    page: SchedulingPage = strawberry.field(description="The page as stored.")


SchedulingPageResult = Annotated[
    SchedulingPageSuccess | ValidationError | SlugTakenError | NotFoundError | LicenseRequiredError,
    strawberry.union("SchedulingPageResult", description="The saved page, or why nothing was saved."),
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
    @strawberry.field(
        description=(
            "A scheduling page as a visitor sees it (public: no token needed); null when no page has this slug "
            "or the domain does not serve it."
        )
    )
    async def scheduling_page(
        self,
        info: CtxInfo,
        slug: Annotated[str, strawberry.argument(description="The page's path after `/meetings/`.")],
        domain: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "The host the visitor opened the page on (a URL is accepted too); the app's own host when "
                    "omitted. A custom domain serves only the pages of the account that connected it."
                )
            ),
        ] = None,
    ) -> PublicSchedulingPage | None:
        page = await public_pages.find_page(info.context, slug, domain)
        return PublicSchedulingPage.from_model(page) if page else None


@strawberry.type
class PagesMutation:
    @strawberry.mutation(
        description=(
            "Create a scheduling page (possible without a connected calendar: the page is then offline). "
            "ValidationError naming the field for a bad name, slug, duration, time zone, weekly hours, buffer "
            "or notice; SlugTakenError when the slug is taken on any domain."
        )
    )
    async def create_scheduling_page(
        self, info: CtxInfo, input: Annotated[SchedulingPageInput, strawberry.argument(description="The new page.")]
    ) -> SchedulingPageResult:
        return await outcome(info.context, pages_write.create_page(info.context, _page_input(input)), _page_success)

    @strawberry.mutation(
        description=(
            "Change a scheduling page (see SchedulingPageInput for what omitted fields do). ValidationError "
            "naming the field; SlugTakenError when a new slug is taken; NotFoundError when the page is not the "
            "caller's."
        )
    )
    async def update_scheduling_page(
        self,
        info: CtxInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="SchedulingPage.id.")],
        input: Annotated[SchedulingPageInput, strawberry.argument(description="The page's new settings.")],
    ) -> SchedulingPageResult:
        return await outcome(info.context, pages_write.update_page(info.context, id, _page_input(input)), _page_success)


@strawberry.type
class PagesSubscription:
    @strawberry.subscription(
        description=(
            "The free slots of a public page in [start, end): sent once at subscription and again whenever they "
            "change (a booking, a calendar change pushed or polled, a settings change). Public: any WebSocket "
            "connection may follow any page; each counts against the connection's subscription limit. The slots "
            "are those availableSlots answers for the same arguments (an empty list while the page is inactive or a "
            "calendar's access is lost). No page with this slug on this domain: a BAD_USER_INPUT error with "
            "`argument: slug` (where schedulingPage is null); a bad window: availableSlots' BAD_USER_INPUT error."
        )
    )
    async def available_slots_changed(
        self,
        info: CtxInfo,
        slug: Annotated[str, strawberry.argument(description="The page's path after `/meetings/`.")],
        domain: Annotated[
            str | None,
            strawberry.argument(
                description="The host the visitor opened the page on; the app's own host when omitted."
            ),
        ] = None,
        *,
        start: Annotated[
            datetime, strawberry.argument(description="The window's start, with a UTC offset (inclusive).")
        ],
        end: Annotated[
            datetime,
            strawberry.argument(description="The window's end, with a UTC offset; at most 62 days after start."),
        ],
    ) -> AsyncGenerator[list[Slot], None]:
        async for slots in slots_feed.follow(info.context, slug, domain, start, end):
            yield [Slot(start=s.start, end=s.end) for s in slots]
