"""GraphQL input types."""

from __future__ import annotations

from datetime import datetime

import strawberry


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


@strawberry.input
class BookMeetingInput:
    slug: str
    domain: str | None = strawberry.field(
        default=None, description="The host the page was opened on; the app's own host when omitted."
    )
    start: datetime
    contact_email: str
    contact_name: str


@strawberry.input
class CrmMeetingInput:
    contact_email: str
    title: str
    start: datetime
    end: datetime
    from_integration: bool | None = strawberry.field(
        default=False, description="Created by an integration: logged only, never synced to a calendar."
    )


@strawberry.input
class TaskInput:
    title: str
    due: datetime
