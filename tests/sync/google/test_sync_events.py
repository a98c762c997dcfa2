"""GoogleCalendarProvider.sync_events against the Google emulator over real HTTP: full and incremental syncs,
paging, 410 Gone, series instances, all-day events, keys, integrations and lost access."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulators.state import AccessRole as EmulatorRole
from emulators.state import EmulatedRecurrence
from providers.base import (
    Attendee,
    CalendarAccessLost,
    EventDraft,
    ProviderAuthError,
    SyncBatch,
    SyncCursorExpired,
    UnsupportedOperation,
)
from providers.google import GoogleCalendarProvider, google_event_id, key_of_event_id
from tests.providers.harness_google import ACCOUNT, GoogleWorld
from tests.sync.google.conftest import primary_id

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
WINDOW = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))


async def full_sync(provider: GoogleCalendarProvider, calendar_id: str) -> SyncBatch:
    return await provider.sync_events(calendar_id, None, *WINDOW)


async def test_a_full_sync_follows_every_page_and_ends_with_a_cursor(
    world: GoogleWorld, provider: GoogleCalendarProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    calendar_id = primary_id(world)
    for n in range(600):
        world.state.add_event(calendar_id, T0 + timedelta(hours=n), T0 + timedelta(hours=n, minutes=30), f"e{n}")
    world.state.add_event(calendar_id, WINDOW[1] + timedelta(days=1), WINDOW[1] + timedelta(days=1, hours=1))
    monkeypatch.setattr("providers.google.SYNC_PAGE_SIZE", 250)
    # when
    batch = await full_sync(provider, calendar_id)
    # then
    assert batch.full and (batch.window_start, batch.window_end) == WINDOW
    assert sorted(e.summary for e in batch.changed) == sorted(f"e{n}" for n in range(600))
    assert batch.removed == [] and batch.cursor
    assert world.calls["events.list"] == 3


async def test_an_incremental_sync_reports_adds_moves_deletes_and_transparency(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    calendar_id = primary_id(world)
    moved = world.state.add_event(calendar_id, T0, T0 + timedelta(hours=1), "moved")
    deleted = world.state.add_event(calendar_id, T0 + timedelta(hours=2), T0 + timedelta(hours=3), "deleted")
    freed = world.state.add_event(calendar_id, T0 + timedelta(hours=4), T0 + timedelta(hours=5), "freed")
    world.state.add_event(calendar_id, T0 + timedelta(hours=6), T0 + timedelta(hours=7), "untouched")
    first = await full_sync(provider, calendar_id)
    assert all(e.blocks for e in first.changed) and len(first.changed) == 4
    # when
    added = world.state.add_event(calendar_id, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1), "added")
    moved.start, moved.end = T0 + timedelta(days=2), T0 + timedelta(days=2, hours=1)
    deleted.cancelled = True
    freed.busy = False
    batch = await provider.sync_events(calendar_id, first.cursor, *WINDOW)
    # then
    assert not batch.full
    changed = {e.id: e for e in batch.changed}
    assert set(changed) == {added.id, moved.id, freed.id}
    assert changed[moved.id].start == T0 + timedelta(days=2)
    assert changed[freed.id].blocks is False and changed[freed.id].status == "transparent"
    assert batch.removed == [deleted.id]
    assert changed[moved.id].version != next(e.version for e in first.changed if e.id == moved.id)
    again = await provider.sync_events(calendar_id, batch.cursor, *WINDOW)
    assert again.changed == [] and again.removed == []


async def test_an_expired_or_garbled_cursor_is_sync_cursor_expired(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    calendar_id = primary_id(world)
    first = await full_sync(provider, calendar_id)
    world.state.expire_sync_state(calendar_id)
    # when / then
    with pytest.raises(SyncCursorExpired):
        await provider.sync_events(calendar_id, first.cursor, *WINDOW)
    with pytest.raises(SyncCursorExpired):
        await provider.sync_events(calendar_id, "not-a-token", *WINDOW)
    again = await full_sync(provider, calendar_id)
    assert (await provider.sync_events(calendar_id, again.cursor, *WINDOW)).changed == []


async def test_a_cursor_of_another_calendar_is_expired(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    account = world.state.account(ACCOUNT)
    assert account is not None
    other = next(cid for cid, role in account.access.items() if role is EmulatorRole.OWNER and cid != primary_id(world))
    first = await full_sync(provider, primary_id(world))
    # when / then
    with pytest.raises(SyncCursorExpired):
        await provider.sync_events(other, first.cursor, *WINDOW)


async def test_series_are_synced_as_instances_and_a_deleted_series_removes_them(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    calendar_id = primary_id(world)
    series = world.state.add_event(
        calendar_id, T0, T0 + timedelta(hours=1), "standup", recurrence=EmulatedRecurrence("daily", count=3)
    )
    # when
    first = await full_sync(provider, calendar_id)
    series.cancelled = True
    batch = await provider.sync_events(calendar_id, first.cursor, *WINDOW)
    # then
    assert [(e.start, e.series_id) for e in first.changed] == [(T0 + timedelta(days=n), series.id) for n in range(3)]
    assert [e.id for e in first.changed] == [f"{series.id}_2026120{7 + n}T090000Z" for n in range(3)]
    assert sorted(batch.removed) == sorted(e.id for e in first.changed)


async def test_a_moved_series_replaces_its_instances(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    calendar_id = primary_id(world)
    series = world.state.add_event(
        calendar_id, T0, T0 + timedelta(hours=1), "standup", recurrence=EmulatedRecurrence("daily", count=2)
    )
    first = await full_sync(provider, calendar_id)
    # when
    series.start, series.end = T0 + timedelta(hours=2), T0 + timedelta(hours=3)
    batch = await provider.sync_events(calendar_id, first.cursor, *WINDOW)
    # then
    assert sorted(batch.removed) == sorted(e.id for e in first.changed)
    assert [e.start for e in batch.changed] == [T0 + timedelta(days=n, hours=2) for n in range(2)]


async def test_all_day_events_are_midnights_in_the_calendars_zone(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    calendar_id = primary_id(world)
    berlin = ZoneInfo("Europe/Berlin")
    world.state.calendars[calendar_id].timezone = "Europe/Berlin"
    day = datetime(2026, 12, 8, tzinfo=berlin)
    world.state.add_event(calendar_id, day, day + timedelta(days=1), "offsite", timezone="Europe/Berlin", all_day=True)
    # when
    batch = await full_sync(provider, calendar_id)
    # then
    (event,) = batch.changed
    assert (event.start, event.end) == (datetime(2026, 12, 7, 23, tzinfo=UTC), datetime(2026, 12, 8, 23, tzinfo=UTC))


async def test_an_event_created_with_a_key_is_recognised_by_it(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    calendar_id = primary_id(world)
    key = str(uuid.uuid4())
    draft = EventDraft("Call", T0, T0 + timedelta(minutes=30), (Attendee("lead@example.test"),), key=key)
    event_id = await provider.create_event(calendar_id, draft)
    world.state.add_event(calendar_id, T0 + timedelta(hours=2), T0 + timedelta(hours=3), "not ours")
    # when
    batch = await full_sync(provider, calendar_id)
    # then
    keys = {e.summary: e.key for e in batch.changed}
    assert event_id == google_event_id(key) and keys == {"Call": key, "not ours": None}


@given(st.uuids())
def test_every_uuid_key_is_read_back_from_its_event_id(key: uuid.UUID) -> None:
    assert key_of_event_id(google_event_id(str(key))) == str(key)


@given(st.text(min_size=1).filter(lambda text: not is_uuid(text)))
def test_a_key_that_is_no_uuid_is_not_read_back(key: str) -> None:
    assert key_of_event_id(google_event_id(key)) is None


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def test_only_ids_derived_from_a_uuid_give_a_key() -> None:
    key = str(uuid.uuid4())
    assert key_of_event_id(google_event_id(key)) == key
    assert key_of_event_id(google_event_id("not-a-uuid")) is None
    assert key_of_event_id("a" * 26) is None  # base32hex of 26 characters, but no encoder's output (stray bits)
    assert key_of_event_id("0" * 26) == str(uuid.UUID(bytes=bytes(16)))
    assert key_of_event_id("abc") is None


async def test_organizer_attendees_and_integrations_are_mapped(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    calendar_id = primary_id(world)
    mine = world.state.add_event(
        calendar_id,
        T0,
        T0 + timedelta(hours=1),
        "mine",
        attendees=[ACCOUNT, "lead@example.test", "room-1@resource.calendar.google.com"],
    )
    invited = world.state.add_event(calendar_id, T0 + timedelta(hours=2), T0 + timedelta(hours=3), "invited")
    invited.organizer = "boss@example.test"
    booked = world.state.add_event(calendar_id, T0 + timedelta(hours=4), T0 + timedelta(hours=5), "booked")
    booked.created_by_app = "Calendly"
    # when
    batch = await full_sync(provider, calendar_id)
    # then
    found = {e.summary: e for e in batch.changed}
    assert found["mine"].organized_by_account and found["mine"].organizer_email == ACCOUNT
    assert [a.email for a in found["mine"].attendees] == [ACCOUNT, "lead@example.test"]
    assert not found["invited"].organized_by_account and found["invited"].organizer_email == "boss@example.test"
    assert found["booked"].from_integration and not found["mine"].from_integration
    assert mine.id == found["mine"].id


async def test_a_lost_calendar_is_calendar_access_lost(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    calendar_id = primary_id(world)
    first = await full_sync(provider, calendar_id)
    world.state.lose_access(ACCOUNT, calendar_id)
    # when / then
    with pytest.raises(CalendarAccessLost) as lost:
        await provider.sync_events(calendar_id, first.cursor, *WINDOW)
    assert lost.value.calendar_ids == (calendar_id,)
    with pytest.raises(CalendarAccessLost):
        await full_sync(provider, calendar_id)


async def test_a_free_busy_share_cannot_be_synced(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    account = world.state.account(ACCOUNT)
    assert account is not None
    share = next(cid for cid, role in account.access.items() if role is EmulatorRole.FREE_BUSY)
    # when / then
    with pytest.raises(UnsupportedOperation) as refused:
        await full_sync(provider, share)
    assert not isinstance(refused.value, CalendarAccessLost)


async def test_a_revoked_grant_is_provider_auth_error(world: GoogleWorld, provider: GoogleCalendarProvider) -> None:
    # given
    world.state.faults.revoked = True
    # when / then
    with pytest.raises(ProviderAuthError):
        await full_sync(provider, primary_id(world))
