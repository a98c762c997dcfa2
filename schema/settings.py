"""A user's calendar settings: sync switches, availability calendars, meeting links and domain."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import strawberry

from db import models
from resolvers import settings as settings_resolvers
from resolvers import settings_save
from schema.base import CtxInfo
from schema.connections import Calendar
from schema.domains import Domain
from schema.errors import LicenseRequiredError, NotFoundError, ProviderError, ValidationError
from schema.pages import SchedulingPage
from schema.results import outcome


@strawberry.type(description="The user's calendar settings (one set per user).")
class CalendarSettings:
    calendar_sync: bool = strawberry.field(
        description=(
            "Meetings logged on CRM contacts are written to the calendar and the contact is invited; off, only "
            "a record is logged. On by default once a Google or Office 365 calendar is connected; never for "
            "Exchange."
        )
    )
    task_sync: bool = strawberry.field(
        description="CRM tasks are written to a tasks sub-calendar of the connected account (licensed, see SeatTier)."
    )
    scheduling_pages_enabled: bool = strawberry.field(
        description=(
            "Bookings use the connected calendar; off (or without a calendar), pages are offline and take "
            "requests. On by default once a Google or Office 365 calendar is connected."
        )
    )
    meeting_url_prefix: str | None = strawberry.field(
        description=(
            "The slug prefix of future pages (`<prefix>/<name>`); existing pages keep their URLs. "
            "Null when none is set."
        )
    )
    pages_active: bool = strawberry.field(
        description="False after disableSchedulingPages: every page refuses bookings (PagesDisabledError)."
    )
    chat_include_meeting_link: bool = strawberry.field(description="The chat widget shows a link to chatMeetingLink.")
    _model: strawberry.Private[models.CalendarSettings]

    @classmethod
    def from_model(cls, m: models.CalendarSettings) -> CalendarSettings:
        return cls(
            calendar_sync=m.calendar_sync,
            task_sync=m.task_sync,
            scheduling_pages_enabled=m.scheduling_pages_enabled,
            meeting_url_prefix=m.meeting_url_prefix,
            pages_active=m.pages_active,
            chat_include_meeting_link=m.chat_include_meeting_link,
            _model=m,
        )

    @strawberry.field(
        description="Calendars checked for busy time besides the primary one; bookings are never written to them."
    )
    async def availability_calendars(self, info: CtxInfo) -> list[Calendar]:
        rows = await info.context.loaders.calendars_by_user.load(self._model.user_id)
        return [Calendar.from_model(c) for c in rows if c.is_availability]

    @strawberry.field(
        description=(
            "Calendars whose access was lost; while an availability calendar is here nobody can book. "
            "Remove one with removeInactiveCalendar."
        )
    )
    async def inactive_calendars(self, info: CtxInfo) -> list[Calendar]:
        rows = await settings_resolvers.inactive_calendars(info.context, self._model.user_id)
        return [Calendar.from_model(c) for c in rows]

    @strawberry.field(
        description="The page inserted as meeting link into sales email templates; null when none is chosen."
    )
    async def default_meeting_link(self, info: CtxInfo) -> SchedulingPage | None:
        return await _page(info, self._model.default_meeting_link_id)

    @strawberry.field(description="The custom domain the user's pages are served on; null for the app's own host.")
    async def meeting_domain(self, info: CtxInfo) -> Domain | None:
        if self._model.meeting_domain_id is None:
            return None
        domain = await info.context.loaders.domain_by_id.load(self._model.meeting_domain_id)
        return Domain.from_model(domain) if domain else None

    @strawberry.field(description="The page linked in the chat widget; null when none is chosen.")
    async def chat_meeting_link(self, info: CtxInfo) -> SchedulingPage | None:
        return await _page(info, self._model.chat_meeting_link_id)


async def _page(info: CtxInfo, page_id: uuid.UUID | None) -> SchedulingPage | None:
    if page_id is None:
        return None
    page = await info.context.loaders.page_by_id.load(page_id)
    return SchedulingPage.from_model(page) if page else None


@strawberry.input(
    description=(
        "Only the fields sent are changed; null clears a link, prefix or domain (null for a switch or for "
        "availabilityCalendarIds leaves it as it is)."
    )
)
class CalendarSettingsInput:
    calendar_sync: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Turn calendar sync on or off; on needs a connected Google or Office 365 calendar.",
    )
    task_sync: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Turn task sync on or off; on needs a connected calendar and a paid Sales or Service Hub seat, "
            "Professional or Enterprise (else LicenseRequiredError). The tasks sub-calendar is created then."
        ),
    )
    scheduling_pages_enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Use the connected calendar for the pages; off, the pages are offline and take requests.",
    )
    availability_calendar_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "The complete set of availability calendars (Calendar.id); an empty list clears it. Only active "
            "calendars of the user's connections that are owned or shared with full details "
            "(selectableForAvailability)."
        ),
    )
    meeting_url_prefix: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "a-z, 0-9 and '-', no '/'; needs a paid Sales or Service Hub seat, Starter or above "
            "(else LicenseRequiredError). Null removes it."
        ),
    )
    default_meeting_link_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="One of the user's SchedulingPage ids; null clears it."
    )
    meeting_domain_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "A Domain.id of the account's domain manager; every page URL of the user moves to it. Null moves "
            "them back to the app's own host."
        ),
    )
    chat_include_meeting_link: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Show a page link in the chat widget; on needs chatMeetingLinkId."
    )
    chat_meeting_link_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="One of the user's SchedulingPage ids; null clears it."
    )


@strawberry.type(description="The settings were saved.")
class CalendarSettingsSuccess:
    settings: CalendarSettings = strawberry.field(description="The settings as stored now.")


CalendarSettingsResult = Annotated[
    CalendarSettingsSuccess | ValidationError | LicenseRequiredError | NotFoundError | ProviderError,
    strawberry.union(
        "CalendarSettingsResult", description="The saved settings, or why nothing was saved (nothing is half-saved)."
    ),
]


def _settings_changes(input: CalendarSettingsInput) -> dict[str, Any]:
    """The fields the client sent: omitted ones stay as they are, explicit nulls clear."""
    return {name: value for name, value in vars(input).items() if value is not strawberry.UNSET}


def _settings_success(model: models.CalendarSettings) -> CalendarSettingsSuccess:
    return CalendarSettingsSuccess(settings=CalendarSettings.from_model(model))


@strawberry.type
class SettingsMutation:
    @strawberry.mutation(
        description=(
            "Save calendar settings: validated as a whole, saved all or nothing. ValidationError naming the "
            "field for a choice the rules refuse (sync without a connected calendar, a calendar, page or domain "
            "that is not the user's, a free/busy-only or inactive calendar, a malformed prefix or id); "
            "LicenseRequiredError for task sync or a URL prefix the seat does not include."
        )
    )
    async def save_calendar_settings(
        self,
        info: CtxInfo,
        input: Annotated[CalendarSettingsInput, strawberry.argument(description="Only the fields to change.")],
    ) -> CalendarSettingsResult:
        return await outcome(
            info.context, settings_save.save(info.context, _settings_changes(input)), _settings_success
        )

    @strawberry.mutation(
        description=(
            "Remove a calendar whose access was lost, so the user's pages take bookings again. ValidationError "
            "(field `calendarId`) when it is active or the primary calendar (disconnect the account instead); "
            "NotFoundError when it is not the user's."
        )
    )
    async def remove_inactive_calendar(
        self,
        info: CtxInfo,
        calendar_id: Annotated[
            strawberry.ID, strawberry.argument(description="Calendar.id from CalendarSettings.inactiveCalendars.")
        ],
    ) -> CalendarSettingsResult:
        return await outcome(
            info.context, settings_save.remove_inactive_calendar(info.context, calendar_id), _settings_success
        )

    @strawberry.mutation(description="Deactivate every scheduling page of the caller without deleting them.")
    async def disable_scheduling_pages(self, info: CtxInfo) -> CalendarSettingsResult:
        return await outcome(info.context, settings_save.set_pages_active(info.context, False), _settings_success)

    @strawberry.mutation(description="Activate the caller's scheduling pages again (undoes disableSchedulingPages).")
    async def enable_scheduling_pages(self, info: CtxInfo) -> CalendarSettingsResult:
        return await outcome(info.context, settings_save.set_pages_active(info.context, True), _settings_success)
