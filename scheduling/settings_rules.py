"""Calendar settings (SPEC "Calendar settings"): saved together, validated as a whole, nothing half-saved.

- Calendar sync needs a connected calendar that has two-way sync (not Exchange).
- Task sync needs the licence (scheduling.licences) and a connected calendar; tasks go to a sub-calendar
  created in the connected account the first time task sync is turned on.
- Availability calendars: only the user's own calendars, owned or shared with full details, and active.
- Meeting URL prefix: needs the licence; a slug without '/'. It is the base of future pages' slugs only.
- Default and chat meeting links: the user's own pages; including a chat link needs a chosen page.
- Meeting domain: only domains connected in the account's domain manager and verified (scheduling.domain_rules).
- An inactive calendar (access lost) can be removed, unless it is a primary calendar.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scheduling import licences, validation
from scheduling.calendars import ConnectionStatus, ProviderKind, capabilities_of, selectable_for_availability
from scheduling.errors import InvalidInput

TASK_CALENDAR_NAME = "CRM tasks"
FLAGS = ("calendar_sync", "task_sync", "scheduling_pages_enabled", "chat_include_meeting_link")
MAX_AVAILABILITY_CALENDARS = 200
"""The most calendars availabilityCalendarIds may name."""
LINKS = ("meeting_url_prefix", "default_meeting_link_id", "chat_meeting_link_id", "meeting_domain_id")


@dataclass(frozen=True)
class CalendarChoice:
    """What the rules need to know of one of the user's calendars."""

    id: uuid.UUID
    name: str
    access_role: str
    status: ConnectionStatus
    is_primary: bool = False


@dataclass(frozen=True)
class SettingsFacts:
    """The user's situation the changes are checked against (loaded by the resolver)."""

    seat: licences.Seat
    connection_kinds: Sequence[ProviderKind]
    """In slot order: the first is where tasks and bookings go."""
    task_calendar_exists: bool
    chat_include_meeting_link: bool
    chat_meeting_link_id: uuid.UUID | None
    calendars: Mapping[uuid.UUID, CalendarChoice] = field(default_factory=dict)
    own_page_ids: Collection[uuid.UUID] = ()
    account_domain_ids: Collection[uuid.UUID] = ()
    verified_domain_ids: Collection[uuid.UUID] = ()
    """Those of account_domain_ids whose DNS verification succeeded."""


@dataclass(frozen=True)
class SettingsUpdate:
    values: Mapping[str, Any]
    """Settings fields to write (a field not here stays as it is)."""
    availability_calendar_ids: frozenset[uuid.UUID] | None
    """The complete set of availability calendars, or None to leave them as they are."""
    create_task_calendar: bool


def validate(changes: Mapping[str, Any], facts: SettingsFacts) -> SettingsUpdate:
    """Check every change before anything is written (absent = unchanged, None = cleared where allowed)."""
    check_sizes(changes)
    if changes.get("calendar_sync"):
        if not facts.connection_kinds:
            raise InvalidInput("calendar sync needs a connected calendar", field="calendarSync")
        if not any(capabilities_of(kind).two_way_sync for kind in facts.connection_kinds):
            raise InvalidInput("Exchange calendars have no two-way sync", field="calendarSync")
    if changes.get("task_sync"):
        licences.require_task_sync(facts.seat)
        if not facts.connection_kinds:
            raise InvalidInput("task sync needs a connected calendar", field="taskSync")
    availability = None
    if changes.get("availability_calendar_ids") is not None:
        availability = _availability(changes["availability_calendar_ids"], facts.calendars)
    values: dict[str, Any] = {name: bool(changes[name]) for name in FLAGS if changes.get(name) is not None}
    if "meeting_url_prefix" in changes:
        values["meeting_url_prefix"] = _prefix(changes["meeting_url_prefix"], facts.seat)
    for name, input_field in (
        ("default_meeting_link_id", "defaultMeetingLinkId"),
        ("chat_meeting_link_id", "chatMeetingLinkId"),
    ):
        if name in changes:
            values[name] = _own_page(changes[name], input_field, facts.own_page_ids)
    if "meeting_domain_id" in changes:
        values["meeting_domain_id"] = _domain(changes["meeting_domain_id"], facts)
    include_chat = values.get("chat_include_meeting_link", facts.chat_include_meeting_link)  # null = unchanged
    chat_target = values["chat_meeting_link_id"] if "chat_meeting_link_id" in changes else facts.chat_meeting_link_id
    if include_chat and chat_target is None:
        raise InvalidInput("choose the scheduling page to include in the chat widget", field="chatMeetingLinkId")
    return SettingsUpdate(
        values=values,
        availability_calendar_ids=availability,
        create_task_calendar=bool(changes.get("task_sync")) and not facts.task_calendar_exists,
    )


def check_sizes(changes: Mapping[str, Any]) -> None:
    """The list inputs within their maximums (checked before anything is loaded for them)."""
    if changes.get("availability_calendar_ids") is not None:
        validation.at_most(
            changes["availability_calendar_ids"], "availabilityCalendarIds", max_items=MAX_AVAILABILITY_CALENDARS
        )


def _availability(values: Sequence[str], calendars: Mapping[uuid.UUID, CalendarChoice]) -> frozenset[uuid.UUID]:
    field = "availabilityCalendarIds"
    keys = frozenset(validation.input_id(v, field) for v in values)
    if not keys <= calendars.keys():
        raise InvalidInput("only calendars of your connected accounts can be chosen", field=field)
    for key in keys:
        calendar = calendars[key]
        if not selectable_for_availability(calendar.access_role):
            raise InvalidInput(
                f"{calendar.name} is shared free/busy only; choose calendars you own or see in full detail",
                field=field,
            )
        if calendar.status is ConnectionStatus.INACTIVE:
            raise InvalidInput(f"{calendar.name} is inactive (access was lost)", field=field)
    return keys


def _prefix(value: str | None, seat: licences.Seat) -> str | None:
    if value is None:
        return None
    licences.require_url_prefix(seat)
    prefix = validation.slug(value, "meetingUrlPrefix")
    if "/" in prefix:
        raise InvalidInput("meetingUrlPrefix must not contain '/'", field="meetingUrlPrefix")
    return prefix


def _own_page(value: str | None, field: str, own_page_ids: Collection[uuid.UUID]) -> uuid.UUID | None:
    if value is None:
        return None
    key = validation.input_id(value, field)
    if key not in own_page_ids:
        raise InvalidInput(f"{field} must be one of your scheduling pages", field=field)
    return key


def _domain(value: str | None, facts: SettingsFacts) -> uuid.UUID | None:
    if value is None:
        return None
    key = validation.input_id(value, "meetingDomainId")
    if key not in facts.account_domain_ids:
        raise InvalidInput(
            "only domains connected in your account's domain manager can be chosen", field="meetingDomainId"
        )
    if key not in facts.verified_domain_ids:
        raise InvalidInput(
            "that domain is not verified yet: publish its verification TXT record and run verifyDomain first",
            field="meetingDomainId",
        )
    return key


def check_removable(calendar: CalendarChoice) -> None:
    """Only an inactive calendar can be removed, and never a primary one (disconnect the account instead)."""
    if calendar.status is not ConnectionStatus.INACTIVE:
        raise InvalidInput("only inactive calendars can be removed", field="calendarId")
    if calendar.is_primary:
        raise InvalidInput(
            "the primary calendar cannot be removed; disconnect the calendar account instead", field="calendarId"
        )


def after_last_disconnect() -> Mapping[str, bool]:
    """With no calendar account left, nothing can be synced."""
    return {"calendar_sync": False, "task_sync": False}
