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


@strawberry.type
class CalendarSettings:
    calendar_sync: bool
    task_sync: bool
    scheduling_pages_enabled: bool
    meeting_url_prefix: str | None
    pages_active: bool
    chat_include_meeting_link: bool
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

    @strawberry.field
    async def availability_calendars(self, info: CtxInfo) -> list[Calendar]:
        rows = await info.context.loaders.calendars_by_user.load(self._model.user_id)
        return [Calendar.from_model(c) for c in rows if c.is_availability]

    @strawberry.field
    async def inactive_calendars(self, info: CtxInfo) -> list[Calendar]:
        rows = await settings_resolvers.inactive_calendars(info.context, self._model.user_id)
        return [Calendar.from_model(c) for c in rows]

    @strawberry.field
    async def default_meeting_link(self, info: CtxInfo) -> SchedulingPage | None:
        return await _page(info, self._model.default_meeting_link_id)

    @strawberry.field
    async def meeting_domain(self, info: CtxInfo) -> Domain | None:
        if self._model.meeting_domain_id is None:
            return None
        domain = await info.context.loaders.domain_by_id.load(self._model.meeting_domain_id)
        return Domain.from_model(domain) if domain else None

    @strawberry.field
    async def chat_meeting_link(self, info: CtxInfo) -> SchedulingPage | None:
        return await _page(info, self._model.chat_meeting_link_id)


async def _page(info: CtxInfo, page_id: uuid.UUID | None) -> SchedulingPage | None:
    if page_id is None:
        return None
    page = await info.context.loaders.page_by_id.load(page_id)
    return SchedulingPage.from_model(page) if page else None


@strawberry.input(description="Only the fields sent are changed; null clears a link, prefix or domain.")
class CalendarSettingsInput:
    calendar_sync: bool | None = strawberry.UNSET
    task_sync: bool | None = strawberry.UNSET
    scheduling_pages_enabled: bool | None = strawberry.UNSET
    availability_calendar_ids: list[strawberry.ID] | None = strawberry.UNSET
    meeting_url_prefix: str | None = strawberry.UNSET
    default_meeting_link_id: strawberry.ID | None = strawberry.UNSET
    meeting_domain_id: strawberry.ID | None = strawberry.UNSET
    chat_include_meeting_link: bool | None = strawberry.UNSET
    chat_meeting_link_id: strawberry.ID | None = strawberry.UNSET


@strawberry.type
class CalendarSettingsSuccess:
    settings: CalendarSettings


CalendarSettingsResult = Annotated[
    CalendarSettingsSuccess | ValidationError | LicenseRequiredError | NotFoundError | ProviderError,
    strawberry.union("CalendarSettingsResult"),
]


def _settings_changes(input: CalendarSettingsInput) -> dict[str, Any]:
    """The fields the client sent: omitted ones stay as they are, explicit nulls clear."""
    return {name: value for name, value in vars(input).items() if value is not strawberry.UNSET}


def _settings_success(model: models.CalendarSettings) -> CalendarSettingsSuccess:
    return CalendarSettingsSuccess(settings=CalendarSettings.from_model(model))


@strawberry.type
class SettingsMutation:
    @strawberry.mutation(description="Save calendar settings: validated as a whole, saved all or nothing.")
    async def save_calendar_settings(self, info: CtxInfo, input: CalendarSettingsInput) -> CalendarSettingsResult:
        return await outcome(
            info.context, settings_save.save(info.context, _settings_changes(input)), _settings_success
        )

    @strawberry.mutation
    async def remove_inactive_calendar(self, info: CtxInfo, calendar_id: strawberry.ID) -> CalendarSettingsResult:
        return await outcome(
            info.context, settings_save.remove_inactive_calendar(info.context, calendar_id), _settings_success
        )

    @strawberry.mutation(description="Deactivate every scheduling page of the caller without deleting them.")
    async def disable_scheduling_pages(self, info: CtxInfo) -> CalendarSettingsResult:
        return await outcome(info.context, settings_save.set_pages_active(info.context, False), _settings_success)

    @strawberry.mutation
    async def enable_scheduling_pages(self, info: CtxInfo) -> CalendarSettingsResult:
        return await outcome(info.context, settings_save.set_pages_active(info.context, True), _settings_success)
