"""One provider suite, run against the Google, Office 365 and Exchange emulators over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from providers.base import (
    Attendee,
    CalendarAccessLost,
    EventDraft,
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailable,
    UnsupportedOperation,
)
from providers.windows_zones import WireZone
from scheduling.calendars import AccessRole
from tests.providers.harness import Harness

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_account_email_is_the_connected_account(harness: Harness) -> None:
    assert (await harness.provider.account_email()).lower() == harness.account_email.lower()


async def test_list_calendars_flags_primary_and_access_roles(harness: Harness) -> None:
    # when
    calendars = {c.id: c for c in await harness.provider.list_calendars()}
    # then
    assert calendars[harness.primary_id].is_primary
    assert calendars[harness.primary_id].access_role is AccessRole.OWNER
    assert not calendars[harness.second_id].is_primary
    if harness.reader_share_id is not None:
        assert calendars[harness.reader_share_id].selectable_for_availability
    if harness.freebusy_share_id is not None:
        assert calendars[harness.freebusy_share_id].access_role is AccessRole.FREE_BUSY
        assert not calendars[harness.freebusy_share_id].selectable_for_availability


async def test_get_busy_returns_intervals_per_calendar(harness: Harness) -> None:
    # given
    harness.state.add_event(harness.emulator_calendar_id(harness.primary_id), T0, T0 + timedelta(hours=1))
    harness.state.add_event(
        harness.emulator_calendar_id(harness.second_id), T0 + timedelta(hours=3), T0 + timedelta(hours=4)
    )
    harness.state.add_event(
        harness.emulator_calendar_id(harness.second_id), T0 + timedelta(days=3), T0 + timedelta(days=3, hours=1)
    )
    # when
    busy = await harness.provider.get_busy(
        [harness.primary_id, harness.second_id], T0 - timedelta(hours=1), T0 + timedelta(days=1)
    )
    # then
    assert [(i.start, i.end) for i in busy.intervals[harness.primary_id]] == [(T0, T0 + timedelta(hours=1))]
    assert [(i.start, i.end) for i in busy.intervals[harness.second_id]] == [
        (T0 + timedelta(hours=3), T0 + timedelta(hours=4))
    ]
    assert all(i.start.tzinfo is not None for i in busy.all())


async def test_get_busy_names_the_calendar_whose_access_was_lost(harness: Harness) -> None:
    # given
    lost = harness.reader_share_id or harness.second_id
    harness.state.lose_access(harness.account_email, harness.emulator_calendar_id(lost))
    # when / then
    with pytest.raises(CalendarAccessLost) as caught:
        await harness.provider.get_busy([harness.primary_id, lost], T0, T0 + timedelta(days=1))
    assert caught.value.calendar_ids == (lost,)


async def test_create_event_lands_in_that_calendar_with_attendees(harness: Harness) -> None:
    # given
    draft = EventDraft(
        summary="Intro call",
        start=T0,
        end=T0 + timedelta(minutes=30),
        attendees=[Attendee("contact@example.org", "Contact")],
        description="Booked via meetgraph",
    )
    # when
    event_id = await harness.provider.create_event(harness.primary_id, draft)
    # then
    events = list(harness.state.calendars[harness.emulator_calendar_id(harness.primary_id)].events.values())
    assert len(events) == 1
    assert event_id
    assert (events[0].start, events[0].end) == (T0, T0 + timedelta(minutes=30))
    assert events[0].attendees == ["contact@example.org"]
    assert events[0].summary == "Intro call"
    assert not harness.state.calendars[harness.emulator_calendar_id(harness.second_id)].events


async def test_update_and_delete_follow_capabilities(harness: Harness) -> None:
    # given
    draft = EventDraft(summary="Call", start=T0, end=T0 + timedelta(minutes=30))
    event_id = await harness.provider.create_event(harness.primary_id, draft)
    moved = EventDraft(summary="Call", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=1, minutes=30))
    calendar = harness.state.calendars[harness.emulator_calendar_id(harness.primary_id)]
    if not harness.provider.capabilities.reschedule_meetings:
        with pytest.raises(UnsupportedOperation):
            await harness.provider.update_event(harness.primary_id, event_id, moved)
        with pytest.raises(UnsupportedOperation):
            await harness.provider.delete_event(harness.primary_id, event_id)
        assert len(calendar.events) == 1
        return
    # when
    await harness.provider.update_event(harness.primary_id, event_id, moved)
    # then
    (event,) = calendar.events.values()
    assert event.start == T0 + timedelta(hours=1)
    # when
    await harness.provider.delete_event(harness.primary_id, event_id)
    # then
    assert all(e.cancelled for e in calendar.events.values()) or not calendar.events


async def test_create_calendar_adds_an_owned_calendar(harness: Harness) -> None:
    # when
    created = await harness.provider.create_calendar("CRM tasks")
    # then
    assert created.access_role is AccessRole.OWNER
    names = {c.name for c in await harness.provider.list_calendars()}
    assert "CRM tasks" in names


async def test_throttling_and_server_errors_are_retried(harness: Harness) -> None:
    # given
    harness.state.faults.fail_next = [429, 503]
    harness.state.faults.retry_after_seconds = 7
    # when
    calendars = await harness.provider.list_calendars()
    # then
    assert calendars
    assert harness.sleeps.calls[0] == 7
    assert len(harness.sleeps.calls) == 2


async def test_persistent_server_errors_surface_as_unavailable(harness: Harness) -> None:
    # given
    harness.state.faults.fail_next = [500] * 10
    # when / then
    with pytest.raises(ProviderUnavailable):
        await harness.provider.list_calendars()
    assert len(harness.sleeps.calls) == 3


async def test_revoked_access_is_an_auth_error(harness: Harness) -> None:
    # given
    harness.state.faults.revoked = True
    harness.state.oauth.expire_access_tokens()
    # when / then
    with pytest.raises(ProviderAuthError):
        await harness.provider.list_calendars()


# -- time zones: events written in the page's zone, unknown zones refused ---------------------------------------


async def test_an_event_is_kept_in_the_zone_it_was_written_in(harness: Harness) -> None:
    # given: 10:00 in Berlin on a winter day
    draft = EventDraft(summary="Intro call", start=T0, end=T0 + timedelta(minutes=30), timezone="Europe/Berlin")
    # when
    await harness.provider.create_event(harness.primary_id, draft)
    # then: each emulator keeps the zone (written as W. Europe Standard Time to Graph and EWS) and the instant
    (event,) = harness.live_events(harness.primary_id)
    assert (event.start, event.end) == (T0, T0 + timedelta(minutes=30))
    assert event.timezone == "Europe/Berlin"


async def test_an_unknown_zone_is_refused_by_the_service(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the provider sends a zone no service knows, as it is (no mapping, no fallback)
    raw = WireZone("Mars Standard Time", ZoneInfo("UTC"))
    for module in ("providers.google.iana_zone", "providers.microsoft.windows_zone"):
        monkeypatch.setattr(module, lambda *_: raw)
    monkeypatch.setattr("providers.exchange.provider.windows_zone", lambda *_: raw)
    draft = EventDraft(summary="Intro call", start=T0, end=T0 + timedelta(minutes=30), timezone="Mars/Olympus_Mons")
    # when / then
    with pytest.raises(ProviderRequestError):
        await harness.provider.create_event(harness.primary_id, draft)
    assert harness.live_events(harness.primary_id) == []
