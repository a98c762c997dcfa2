"""Graph calendarView delta, emulated and spoken to: full rounds with paging, incremental rounds, expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from emulators.state import EmulatedRecurrence
from providers.base import (
    Attendee,
    CalendarAccessLost,
    EventDraft,
    ProviderAuthError,
    ProviderUnavailable,
    SyncBatch,
    SyncCursorExpired,
)
from tests.sync.microsoft.conftest import SyncWorld

DAY = timedelta(days=1)


def window(world: SyncWorld) -> tuple[datetime, datetime]:
    start = world.clock().replace(hour=0, minute=0, second=0)
    return start, start + 62 * DAY


async def full_sync(world: SyncWorld) -> SyncBatch:
    start, end = window(world)
    return await world.provider.sync_events(world.primary_id, None, start, end)


async def test_first_sync_lists_every_instance_of_the_window_across_pages(world: SyncWorld) -> None:
    # given 600 events in the window and 3 outside it
    start, end = window(world)
    for n in range(600):
        at = start + timedelta(hours=2 * n)
        world.state.add_event(world.primary_id, at, at + timedelta(minutes=30), f"e{n}")
    for n in range(3):
        world.state.add_event(world.primary_id, end + n * DAY, end + n * DAY + timedelta(hours=1))
    world.provider.delta_page_size = 100

    # when
    batch = await world.provider.sync_events(world.primary_id, None, start, end)

    # then
    assert batch.full and (batch.window_start, batch.window_end) == (start, end)
    assert len({e.id for e in batch.changed}) == 600
    assert world.calls["calendarView.delta"] == 6
    assert "$deltatoken=" in batch.cursor


async def test_delta_pages_by_prefer_maxpagesize_and_ends_with_a_delta_link(world: SyncWorld) -> None:
    # given
    start, _ = window(world)
    for n in range(5):
        world.state.add_event(world.primary_id, start + n * DAY, start + n * DAY + timedelta(hours=1))
    params = {"startDateTime": start.isoformat(), "endDateTime": (start + 10 * DAY).isoformat()}

    async with world.graph() as graph:
        # when
        first = await graph.get("/me/calendarView/delta", params=params, headers={"Prefer": "odata.maxpagesize=2"})
        pages = [first.json()]
        while "@odata.nextLink" in pages[-1]:
            nxt = await graph.get(pages[-1]["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"})
            pages.append(nxt.json())

    # then
    assert first.status_code == 200
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert all("$skiptoken" in parse_qs(urlsplit(p["@odata.nextLink"]).query) for p in pages[:-1])
    assert "$deltatoken" in parse_qs(urlsplit(pages[-1]["@odata.deltaLink"]).query)
    assert "@odata.deltaLink" not in pages[0]


async def test_delta_without_a_window_is_refused(world: SyncWorld) -> None:
    # when
    async with world.graph() as graph:
        answer = await graph.get("/me/calendarView/delta", params={"endDateTime": "2026-12-31T00:00:00Z"})

    # then
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ErrorInvalidParameter"


async def test_incremental_sync_reports_adds_moves_deletes_and_status_changes(world: SyncWorld) -> None:
    # given
    start, _ = window(world)
    moved = world.state.add_event(world.primary_id, start + DAY, start + DAY + timedelta(hours=1), "moved")
    deleted = world.state.add_event(world.primary_id, start + 2 * DAY, start + 2 * DAY + timedelta(hours=1))
    freed = world.state.add_event(world.primary_id, start + 3 * DAY, start + 3 * DAY + timedelta(hours=1))
    untouched = world.state.add_event(world.primary_id, start + 4 * DAY, start + 4 * DAY + timedelta(hours=1))
    first = await full_sync(world)
    assert {e.id for e in first.changed} == {moved.id, deleted.id, freed.id, untouched.id}
    version = {e.id: e.version for e in first.changed}

    # when
    added = world.state.add_event(world.primary_id, start + 5 * DAY, start + 5 * DAY + timedelta(hours=1))
    moved.start, moved.end = start + 6 * DAY, start + 6 * DAY + timedelta(hours=2)
    async with world.graph() as graph:
        assert (await graph.delete(f"/me/events/{deleted.id}")).status_code == 204
    freed.show_as = "free"
    batch = await world.provider.sync_events(world.primary_id, first.cursor, *window(world))

    # then
    assert not batch.full
    changed = {e.id: e for e in batch.changed}
    assert set(changed) == {added.id, moved.id, freed.id}
    assert batch.removed == [deleted.id]
    assert changed[moved.id].start == start + 6 * DAY and changed[moved.id].version != version[moved.id]
    assert not changed[freed.id].blocks and changed[freed.id].status == "free"
    again = await world.provider.sync_events(world.primary_id, batch.cursor, *window(world))
    assert again.changed == [] and again.removed == []


async def test_an_event_moved_out_of_the_window_is_removed(world: SyncWorld) -> None:
    # given
    start, end = window(world)
    event = world.state.add_event(world.primary_id, start + DAY, start + DAY + timedelta(hours=1))
    first = await full_sync(world)

    # when
    event.start, event.end = end + DAY, end + DAY + timedelta(hours=1)
    batch = await world.provider.sync_events(world.primary_id, first.cursor, start, end)

    # then
    assert batch.removed == [event.id] and batch.changed == []


async def test_series_are_expanded_into_instances_and_removed_with_them(world: SyncWorld) -> None:
    # given
    start, _ = window(world)
    series = world.state.add_event(
        world.primary_id,
        start + timedelta(hours=9),
        start + timedelta(hours=10),
        "standup",
        recurrence=EmulatedRecurrence("daily", count=5),
    )

    # when
    first = await full_sync(world)
    series.cancelled = True
    batch = await world.provider.sync_events(world.primary_id, first.cursor, *window(world))

    # then
    assert len(first.changed) == 5
    assert {e.series_id for e in first.changed} == {series.id}
    assert sorted(e.start for e in first.changed)[-1] == start + 4 * DAY + timedelta(hours=9)
    assert sorted(batch.removed) == sorted(e.id for e in first.changed)


async def test_an_expired_delta_token_asks_for_a_full_sync(world: SyncWorld) -> None:
    # given
    first = await full_sync(world)

    # when
    world.state.expire_sync_state(world.primary_id)

    # then
    with pytest.raises(SyncCursorExpired):
        await world.provider.sync_events(world.primary_id, first.cursor, *window(world))
    again = await full_sync(world)
    assert again.full


async def test_a_forged_delta_token_is_gone_too(world: SyncWorld) -> None:
    # given
    first = await full_sync(world)
    forged = first.cursor.replace("$deltatoken=", "$deltatoken=x")

    # when
    async with world.graph() as graph:
        answer = await graph.get(forged)

    # then
    assert answer.status_code == 410
    with pytest.raises(SyncCursorExpired):
        await world.provider.sync_events(world.primary_id, forged, *window(world))


async def test_other_calendars_are_listed_whole_every_time(world: SyncWorld) -> None:
    # given
    start, end = window(world)
    kept = world.state.add_event(world.second_id, start + DAY, start + DAY + timedelta(hours=1))
    gone = world.state.add_event(world.second_id, start + 2 * DAY, start + 2 * DAY + timedelta(hours=1))
    first = await world.provider.sync_events(world.second_id, None, start, end)

    # when
    gone.cancelled = True
    batch = await world.provider.sync_events(world.second_id, first.cursor, start, end)

    # then
    assert first.full and {e.id for e in first.changed} == {kept.id, gone.id}
    assert batch.full and [e.id for e in batch.changed] == [kept.id]
    assert world.calls["calendarView.delta"] == 0


async def test_events_carry_what_two_way_sync_needs(world: SyncWorld) -> None:
    # given an event meetgraph created with a key, one the user organises, one another app created, an invitation
    start, _ = window(world)
    key = "0b8a3a4e-7d0e-4a52-9c6f-2b1f2f6a9d11"
    draft = EventDraft(
        "Intro call", start + DAY, start + DAY + timedelta(minutes=30), (Attendee("lead@example.com"),), key=key
    )
    ours = await world.provider.create_event(world.primary_id, draft)
    own = world.state.add_event(
        world.primary_id, start + 2 * DAY, start + 2 * DAY + timedelta(hours=1), attendees=["c@example.com"]
    )
    other_app = world.state.add_event(world.primary_id, start + 3 * DAY, start + 3 * DAY + timedelta(hours=1))
    other_app.created_by_app = "Zoom"
    invited = world.state.add_event(world.primary_id, start + 4 * DAY, start + 4 * DAY + timedelta(hours=1))
    invited.organizer = "someone@fabrikam.test"

    # when
    events = {e.id: e for e in (await full_sync(world)).changed}

    # then
    assert events[ours].key == key and not events[ours].from_integration
    assert events[ours].attendees == (Attendee("lead@example.com", "lead@example.com"),)
    assert events[own.id].organized_by_account and events[own.id].key is None
    assert not events[own.id].from_integration
    assert events[other_app.id].from_integration and events[other_app.id].key is None
    assert not events[invited.id].organized_by_account
    assert events[invited.id].organizer_email == "someone@fabrikam.test"


async def test_a_key_is_recognised_when_the_event_arrives_before_the_create_answered(world: SyncWorld) -> None:
    # given a create whose answer is lost after Graph stored the event
    start, _ = window(world)
    first = await full_sync(world)
    key = "5d5f7c8e-1111-4a52-9c6f-2b1f2f6a9d11"
    world.state.faults.lose_next_create = "503"
    draft = EventDraft("Demo", start + DAY, start + DAY + timedelta(minutes=30), key=key)
    world.provider.retry = replace(world.provider.retry, attempts=1)
    with pytest.raises(ProviderUnavailable):
        await world.provider.create_event(world.primary_id, draft)

    # when
    batch = await world.provider.sync_events(world.primary_id, first.cursor, *window(world))

    # then
    assert [e.key for e in batch.changed] == [key]


async def test_a_personal_account_syncs_alike(world: SyncWorld) -> None:
    # given
    account = world.state.account(world.state.calendars[world.primary_id].owner_email)
    assert account is not None
    account.personal = True
    start, _ = window(world)
    world.state.add_event(world.primary_id, start + DAY, start + DAY + timedelta(hours=1))

    # when
    first = await full_sync(world)
    world.state.add_event(world.primary_id, start + 2 * DAY, start + 2 * DAY + timedelta(hours=1))
    batch = await world.provider.sync_events(world.primary_id, first.cursor, *window(world))

    # then
    assert len(first.changed) == 1 and len(batch.changed) == 1


async def test_a_lost_calendar_is_reported_as_lost(world: SyncWorld) -> None:
    # given
    start, end = window(world)
    world.state.lose_access(world.state.calendars[world.primary_id].owner_email, world.shared_id)

    # then
    with pytest.raises(CalendarAccessLost) as lost:
        await world.provider.sync_events(world.shared_id, None, start, end)
    assert lost.value.calendar_ids == (world.shared_id,)


async def test_a_revoked_grant_is_an_auth_error(world: SyncWorld) -> None:
    # given
    world.state.faults.revoked = True

    # then
    with pytest.raises(ProviderAuthError):
        await full_sync(world)


async def test_users_delta_serves_the_caller_and_refuses_another_mailbox(world: SyncWorld) -> None:
    # given
    start, end = window(world)
    params = {"startDateTime": start.isoformat(), "endDateTime": end.isoformat()}
    owner = world.state.calendars[world.primary_id].owner_email
    colleague = world.state.calendars[world.shared_id].owner_email

    # when
    async with world.graph() as graph:
        own = await graph.get(f"/users/{owner}/calendarView/delta", params=params)
        other = await graph.get(f"/users/{colleague}/calendarView/delta", params=params)

    # then
    assert own.status_code == 200 and "@odata.deltaLink" in own.json()
    assert other.status_code == 403
