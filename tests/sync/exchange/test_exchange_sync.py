"""Exchange calendar sync by polling (ExchangeCalendarProvider.sync_events) against the EWS emulator over real HTTP:
a full read equals the calendar's busy time, a poll without change is one SyncFolderItems request, a change shows
in the next poll, an expired SyncState and lost access surface as their typed errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from emulators.state import EmulatedEvent, EmulatedRecurrence, EmulatorState
from providers.base import CalendarAccessLost, EventDraft, SyncBatch, SyncCursorExpired
from providers.exchange.view import FIND_BUDGET, PARALLEL_VIEWS
from tests.sync.exchange.conftest import T0, WINDOW, Mailbox

START, END = WINDOW


def blocking(batch: SyncBatch) -> list[tuple[datetime, datetime]]:
    return sorted((e.start, e.end) for e in batch.changed if e.blocks)


def emulator_busy(state: EmulatorState, calendar_id: str) -> list[tuple[datetime, datetime]]:
    return sorted((e.start, e.end) for e in state.busy(calendar_id, START, END))


def seed(state: EmulatorState, calendar_id: str) -> dict[str, EmulatedEvent]:
    """Single events (busy, free, tentative, one across the window's start, one after the window), a cancelled one,
    and a weekly series on Mondays and Wednesdays at 09:00 in Berlin running through the whole window."""
    at = T0 + timedelta(hours=10)
    return {
        "busy": state.add_event(calendar_id, at, at + timedelta(hours=1), "Busy one"),
        "free": state.add_event(calendar_id, at + timedelta(days=1), at + timedelta(days=1, hours=1), busy=False),
        "tentative": state.add_event(
            calendar_id, at + timedelta(days=2), at + timedelta(days=2, hours=1), show_as="tentative"
        ),
        "across": state.add_event(calendar_id, START - timedelta(hours=2), START + timedelta(hours=2), "Across"),
        "after": state.add_event(calendar_id, END + timedelta(days=1), END + timedelta(days=1, hours=1), "After"),
        "cancelled": state.add_event(calendar_id, at + timedelta(days=3), at + timedelta(days=3, hours=1)),
        "series": state.add_event(
            calendar_id,
            T0 + timedelta(hours=8),
            T0 + timedelta(hours=9),
            "Weekly",
            timezone="Europe/Berlin",
            recurrence=EmulatedRecurrence("weekly", weekdays=(0, 2)),
        ),
    }


async def test_a_full_sync_lists_the_windows_events_as_the_calendar_has_them(mailbox: Mailbox) -> None:
    # given
    events = seed(mailbox.state, mailbox.primary_id)
    events["cancelled"].cancelled = True
    # when
    batch = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    # then: every blocking event and occurrence of the window, nothing else; free ones listed as not blocking
    assert batch.full and batch.removed == []
    assert (batch.window_start, batch.window_end) == WINDOW
    assert blocking(batch) == emulator_busy(mailbox.state, mailbox.primary_id)
    occurrences = [e for e in batch.changed if e.summary == "Weekly"]
    assert len(occurrences) == 2 * 9  # Mondays and Wednesdays of nine weeks from T0 (a Monday) - 1 day
    by_summary = {e.summary: e for e in batch.changed}
    assert by_summary["Busy one"].blocks and by_summary["Busy one"].status == "Busy"
    free = next(e for e in batch.changed if e.start == events["free"].start)
    assert not free.blocks and free.status == "Free"
    assert "After" not in by_summary
    assert all(e.id != events["cancelled"].id for e in batch.changed)
    assert len({e.id for e in batch.changed}) == len(batch.changed)


async def test_a_full_sync_carries_versions_and_recognises_meetgraphs_own_events(mailbox: Mailbox) -> None:
    # given: an event meetgraph wrote with its key, one the owner organises and one someone else organises
    at = T0 + timedelta(hours=14)
    own_id = await mailbox.provider.create_event(
        mailbox.primary_id, EventDraft("Booked", at, at + timedelta(minutes=30), key="meeting-1")
    )
    invited = mailbox.state.add_event(mailbox.primary_id, at + timedelta(days=1), at + timedelta(days=1, hours=1))
    invited.organizer = "someone@else.test"
    # when
    batch = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    # then
    by_id = {e.id: e for e in batch.changed}
    assert by_id[own_id].key == "meeting-1" and by_id[own_id].organized_by_account
    assert by_id[invited.id].key is None and not by_id[invited.id].organized_by_account
    assert all(e.version for e in batch.changed)
    # a change gives the event a new version
    invited.summary = "Renamed"
    again = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    assert {e.id: e for e in again.changed}[invited.id].version != by_id[invited.id].version
    assert {e.id: e for e in again.changed}[own_id].version == by_id[own_id].version


async def test_a_full_sync_of_1500_items_pages_within_the_find_budget(mailbox: Mailbox) -> None:
    # given: 1,500 events in the window (more than one FindItem may answer) and a SyncFolderItems of 3 pages
    for n in range(1500):
        at = T0 + timedelta(minutes=40 * n)
        mailbox.state.add_event(mailbox.primary_id, at, at + timedelta(minutes=30), f"Item {n}")
    mark = len(mailbox.traffic.operations)
    # when
    batch = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    # then
    assert len(batch.changed) == 1500
    assert blocking(batch) == emulator_busy(mailbox.state, mailbox.primary_id)
    operations = mailbox.operations_since(mark)
    assert operations[:3] == ["SyncFolderItems"] * 3  # 512 + 512 + 476 changes: the state first, then the view
    assert operations.count("SyncFolderItems") == 3
    share = FIND_BUDGET // PARALLEL_VIEWS
    assert all(size is not None and size <= share for size in mailbox.traffic.view_sizes)


async def test_a_poll_without_change_is_one_sync_folder_items_request(mailbox: Mailbox) -> None:
    # given
    seed(mailbox.state, mailbox.primary_id)
    first = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    mark = len(mailbox.traffic.operations)
    # when
    batch = await mailbox.provider.sync_events(mailbox.primary_id, first.cursor, START, END)
    again = await mailbox.provider.sync_events(mailbox.primary_id, batch.cursor, START, END)
    # then
    assert mailbox.operations_since(mark) == ["SyncFolderItems", "SyncFolderItems"]
    for poll in (batch, again):
        assert (poll.changed, poll.removed, poll.full) == ([], [], False)


def add(state: EmulatorState, calendar_id: str, events: dict[str, EmulatedEvent]) -> None:
    at = T0 + timedelta(days=5, hours=15)
    state.add_event(calendar_id, at, at + timedelta(hours=2), "Added")


def move(state: EmulatorState, calendar_id: str, events: dict[str, EmulatedEvent]) -> None:
    event = events["busy"]
    event.start, event.end = event.start + timedelta(days=2), event.end + timedelta(days=2)


def delete(state: EmulatorState, calendar_id: str, events: dict[str, EmulatedEvent]) -> None:
    events["busy"].cancelled = True


def free(state: EmulatorState, calendar_id: str, events: dict[str, EmulatedEvent]) -> None:
    events["busy"].show_as = "free"


def move_series(state: EmulatorState, calendar_id: str, events: dict[str, EmulatedEvent]) -> None:
    series = events["series"]
    series.start, series.end = series.start + timedelta(hours=3), series.end + timedelta(hours=3)


@pytest.mark.parametrize("change", [add, move, delete, free, move_series])
async def test_a_change_in_the_calendar_shows_in_the_next_poll(
    mailbox: Mailbox, change: Callable[[EmulatorState, str, dict[str, EmulatedEvent]], None]
) -> None:
    # given
    events = seed(mailbox.state, mailbox.primary_id)
    first = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    before = blocking(first)
    # when
    change(mailbox.state, mailbox.primary_id, events)
    batch = await mailbox.provider.sync_events(mailbox.primary_id, first.cursor, START, END)
    # then: the window read again, equal to the calendar now; the poll after it is quiet again
    assert batch.full and (batch.window_start, batch.window_end) == WINDOW
    assert blocking(batch) == emulator_busy(mailbox.state, mailbox.primary_id) != before
    quiet = await mailbox.provider.sync_events(mailbox.primary_id, batch.cursor, START, END)
    assert (quiet.changed, quiet.full) == ([], False)


async def test_a_poll_keeps_the_window_of_the_full_sync_it_follows(mailbox: Mailbox) -> None:
    # given
    events = seed(mailbox.state, mailbox.primary_id)
    first = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    # when: the caller's window has moved on, but its store holds the first one
    move(mailbox.state, mailbox.primary_id, events)
    batch = await mailbox.provider.sync_events(
        mailbox.primary_id, first.cursor, START + timedelta(days=1), END + timedelta(days=1)
    )
    # then
    assert (batch.window_start, batch.window_end) == WINDOW


async def test_an_expired_sync_state_is_sync_cursor_expired(mailbox: Mailbox) -> None:
    # given
    seed(mailbox.state, mailbox.primary_id)
    first = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    mailbox.state.expire_sync_state(mailbox.primary_id)
    # when / then
    with pytest.raises(SyncCursorExpired):
        await mailbox.provider.sync_events(mailbox.primary_id, first.cursor, START, END)
    # and a full sync starts again
    again = await mailbox.provider.sync_events(mailbox.primary_id, None, START, END)
    assert blocking(again) == emulator_busy(mailbox.state, mailbox.primary_id)


@pytest.mark.parametrize("cursor", ["not json", '{"sync_state": "x"}', "[]"])
async def test_a_cursor_that_is_not_ours_is_sync_cursor_expired(mailbox: Mailbox, cursor: str) -> None:
    mark = len(mailbox.traffic.operations)
    with pytest.raises(SyncCursorExpired):
        await mailbox.provider.sync_events(mailbox.primary_id, cursor, START, END)
    assert mailbox.operations_since(mark) == []


async def test_another_folders_sync_state_is_sync_cursor_expired(mailbox: Mailbox) -> None:
    first = await mailbox.provider.sync_events(mailbox.second_id, None, START, END)
    with pytest.raises(SyncCursorExpired):
        await mailbox.provider.sync_events(mailbox.primary_id, first.cursor, START, END)


async def test_a_shared_calendar_syncs_and_lost_access_is_calendar_access_lost(mailbox: Mailbox) -> None:
    # given: a colleague's calendar shared with details, synced
    seed(mailbox.state, mailbox.shared_id)
    first = await mailbox.provider.sync_events(mailbox.shared_id, None, START, END)
    assert blocking(first) == emulator_busy(mailbox.state, mailbox.shared_id)
    # when: the share is withdrawn
    mailbox.state.lose_access("owner@exchange.test", mailbox.shared_id)
    # then: a poll and a full sync both name the calendar
    with pytest.raises(CalendarAccessLost) as polled:
        await mailbox.provider.sync_events(mailbox.shared_id, first.cursor, START, END)
    with pytest.raises(CalendarAccessLost) as full:
        await mailbox.provider.sync_events(mailbox.shared_id, None, START, END)
    assert list(polled.value.calendar_ids) == list(full.value.calendar_ids) == [mailbox.shared_id]


async def test_a_deleted_own_calendar_is_calendar_access_lost(mailbox: Mailbox) -> None:
    first = await mailbox.provider.sync_events(mailbox.second_id, None, START, END)
    with mailbox.state.lock:
        del mailbox.state.calendars[mailbox.second_id]
    with pytest.raises(CalendarAccessLost):
        await mailbox.provider.sync_events(mailbox.second_id, first.cursor, START, END)
