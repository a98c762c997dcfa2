"""One provider suite, run against the Google, Office 365 and Exchange emulators over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from emulators.state import EmulatedRecurrence
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


async def test_a_weekly_series_blocks_every_occurrence_in_the_window(harness: Harness) -> None:
    # given: Mondays and Wednesdays 09:00-10:00 in Berlin (08:00 UTC in winter), from Monday 2026-12-07 on
    first = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    harness.state.add_event(
        harness.emulator_calendar_id(harness.primary_id),
        first,
        first + timedelta(hours=1),
        timezone="Europe/Berlin",
        recurrence=EmulatedRecurrence("weekly", weekdays=(0, 2)),
    )
    # when
    busy = await harness.provider.get_busy([harness.primary_id], first - timedelta(days=1), first + timedelta(days=14))
    # then
    starts = [first + timedelta(days=d) for d in (0, 2, 7, 9)]
    assert [(i.start, i.end) for i in busy.intervals[harness.primary_id]] == [
        (s, s + timedelta(hours=1)) for s in starts
    ]


async def test_an_all_day_event_blocks_its_day(harness: Harness) -> None:
    # given: Tuesday 2026-12-08, all day in Berlin (midnight to midnight there)
    day_start = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    harness.state.add_event(
        harness.emulator_calendar_id(harness.primary_id),
        day_start,
        day_start + timedelta(days=1),
        timezone="Europe/Berlin",
        all_day=True,
    )
    # when
    busy = await harness.provider.get_busy([harness.primary_id], T0, T0 + timedelta(days=3))
    # then
    assert [(i.start, i.end) for i in busy.intervals[harness.primary_id]] == [
        (day_start, day_start + timedelta(days=1))
    ]


async def test_get_busy_names_the_calendar_whose_access_was_lost(harness: Harness) -> None:
    # given
    lost = harness.reader_share_id or harness.second_id
    harness.state.lose_access(harness.account_email, harness.emulator_calendar_id(lost))
    # when / then
    with pytest.raises(CalendarAccessLost) as caught:
        await harness.provider.get_busy([harness.primary_id, lost], T0, T0 + timedelta(days=1))
    assert caught.value.calendar_ids == (lost,)


# busy semantics (one rule for every provider) -------------------------------------------------------------
SHOWN_AS = ("free", "tentative", "busy", "oof", "workingElsewhere")
"""One event per status, two hours apart; only tentative, busy and out of office block."""
BLOCKING = ("tentative", "busy", "oof")


@pytest.mark.parametrize("which", ["primary", "second"])
async def test_only_tentative_busy_and_out_of_office_events_block(harness: Harness, which: str) -> None:
    # given
    calendar_id = harness.primary_id if which == "primary" else harness.second_id
    starts = {status: T0 + timedelta(hours=2 * n) for n, status in enumerate(SHOWN_AS)}
    for status, start in starts.items():
        harness.state.add_event(
            harness.emulator_calendar_id(calendar_id), start, start + timedelta(hours=1), status, show_as=status
        )
    # when
    busy = await harness.provider.get_busy([calendar_id], T0 - timedelta(hours=1), T0 + timedelta(days=1))
    # then
    assert [(i.start, i.end) for i in busy.intervals[calendar_id]] == [
        (starts[status], starts[status] + timedelta(hours=1)) for status in BLOCKING
    ]


async def test_free_and_working_elsewhere_beside_a_busy_event_leave_only_its_time(harness: Harness) -> None:
    # given
    calendar_id = harness.emulator_calendar_id(harness.primary_id)
    harness.state.add_event(calendar_id, T0, T0 + timedelta(hours=4), "Working from home", show_as="workingElsewhere")
    harness.state.add_event(calendar_id, T0, T0 + timedelta(hours=4), "Focus, open to meetings", show_as="free")
    harness.state.add_event(calendar_id, T0 + timedelta(hours=1), T0 + timedelta(hours=2), "Call", show_as="busy")
    # when
    busy = await harness.provider.get_busy([harness.primary_id], T0, T0 + timedelta(days=1))
    # then
    assert [(i.start, i.end) for i in busy.intervals[harness.primary_id]] == [
        (T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    ]


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
