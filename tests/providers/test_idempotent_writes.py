"""Provider writes are idempotent, run against the Google, Office 365 and Exchange emulators over real HTTP.

Durable jobs retry a write after a crash or a timeout (at least once), so a create keyed by the meeting's id
yields at most one event whatever fails and whenever; deletes and calendar creation can be repeated safely.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from emulators.state import LOST_ANSWER_MODES
from providers.base import EventDraft, ProviderUnavailable
from tests.providers.harness import Harness

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KEY = "6f1c2f0e-8a8e-4b6a-9a3e-2d1f5c7b9e10"
CLIENT_TIMEOUT = 0.5
ANSWER_DELAY = 1.5


def keyed_draft(key: str | None = KEY) -> EventDraft:
    return EventDraft(summary="Intro call", start=T0, end=T0 + timedelta(minutes=30), key=key)


async def test_creating_with_the_same_key_twice_returns_the_same_event(harness: Harness) -> None:
    # given
    first = await harness.provider.create_event(harness.primary_id, keyed_draft())
    # when
    second = await harness.provider.create_event(harness.primary_id, keyed_draft())
    # then
    assert second == first
    assert [e.id for e in harness.live_events(harness.primary_id)] == [first]


async def test_different_keys_create_different_events(harness: Harness) -> None:
    # when
    first = await harness.provider.create_event(harness.primary_id, keyed_draft())
    second = await harness.provider.create_event(
        harness.primary_id, keyed_draft("0d7f5a9e-1b2c-4d3e-8f4a-5b6c7d8e9f01")
    )
    # then
    assert first != second
    assert len(harness.live_events(harness.primary_id)) == 2


@pytest.mark.parametrize("mode", LOST_ANSWER_MODES)
async def test_a_stored_create_whose_answer_was_lost_is_not_duplicated_by_the_retry(
    harness: Harness,
    mode: str,
) -> None:
    # given
    harness.set_client_timeout(CLIENT_TIMEOUT)
    harness.state.faults.lost_answer_delay_seconds = ANSWER_DELAY
    harness.state.faults.lose_next_create = mode
    # when
    event_id = await harness.provider.create_event(harness.primary_id, keyed_draft())
    # then
    (event,) = harness.live_events(harness.primary_id)
    assert harness.state.faults.lose_next_create is None
    assert (event.id, event.summary) == (event_id, "Intro call")


async def test_a_job_retried_after_the_provider_accepted_and_every_retry_failed_finds_the_event(
    harness: Harness,
) -> None:
    # given: the create is stored but answered 503, and the provider stays down until the retries run out
    harness.state.faults.lose_next_create = "503"
    harness.state.faults.fail_next = [503] * 10
    with pytest.raises(ProviderUnavailable):
        await harness.provider.create_event(harness.primary_id, keyed_draft())
    harness.state.faults.fail_next = []
    # when: the job runs again
    event_id = await harness.provider.create_event(harness.primary_id, keyed_draft())
    # then
    assert [e.id for e in harness.live_events(harness.primary_id)] == [event_id]


@pytest.mark.parametrize("mode", ["503", "disconnect"])
async def test_a_create_without_a_key_is_not_sent_again_once_it_may_have_arrived(
    harness: Harness,
    mode: str,
) -> None:
    # given
    harness.state.faults.lose_next_create = mode
    # when / then
    with pytest.raises(ProviderUnavailable):
        await harness.provider.create_event(harness.primary_id, keyed_draft(key=None))
    assert len(harness.live_events(harness.primary_id)) == 1
    assert harness.sleeps.calls == []


async def test_throttled_creates_without_a_key_are_still_retried(harness: Harness) -> None:
    # given
    harness.state.faults.fail_next = [429]
    # when
    await harness.provider.create_event(harness.primary_id, keyed_draft(key=None))
    # then
    assert len(harness.live_events(harness.primary_id)) == 1
    assert len(harness.sleeps.calls) == 1


async def test_concurrent_creates_with_one_key_create_one_event(harness: Harness) -> None:
    # when
    ids = await asyncio.gather(*(harness.provider.create_event(harness.primary_id, keyed_draft()) for _ in range(5)))
    # then
    assert len(set(ids)) == 1
    assert len(harness.live_events(harness.primary_id)) == 1


async def test_deleting_twice_or_an_unknown_event_is_silent(harness: Harness) -> None:
    if not harness.provider.capabilities.cancel_meetings:
        pytest.skip(f"{harness.name} meetings cannot be cancelled (declared in its capabilities)")
    # given
    event_id = await harness.provider.create_event(harness.primary_id, keyed_draft())
    # when
    await harness.provider.delete_event(harness.primary_id, event_id)
    await harness.provider.delete_event(harness.primary_id, event_id)
    await harness.provider.delete_event(harness.primary_id, "nosuchevent00")
    # then
    assert harness.live_events(harness.primary_id) == []


async def test_a_create_retried_after_the_event_was_deleted_creates_nothing_new(harness: Harness) -> None:
    if not harness.provider.capabilities.cancel_meetings:
        pytest.skip(f"{harness.name} meetings cannot be cancelled (declared in its capabilities)")
    if harness.name == "microsoft":
        pytest.skip("Graph dedups a transactionId against the events the calendar still holds")
    # given
    event_id = await harness.provider.create_event(harness.primary_id, keyed_draft())
    await harness.provider.delete_event(harness.primary_id, event_id)
    # when
    again = await harness.provider.create_event(harness.primary_id, keyed_draft())
    # then
    assert again == event_id
    assert harness.live_events(harness.primary_id) == []


async def test_updating_twice_leaves_the_same_event(harness: Harness) -> None:
    if not harness.provider.capabilities.reschedule_meetings:
        pytest.skip(f"{harness.name} meetings cannot be rescheduled (declared in its capabilities)")
    # given
    event_id = await harness.provider.create_event(harness.primary_id, keyed_draft())
    moved = EventDraft(summary="Moved", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2), key=KEY)
    # when
    await harness.provider.update_event(harness.primary_id, event_id, moved)
    await harness.provider.update_event(harness.primary_id, event_id, moved)
    # then
    (event,) = harness.live_events(harness.primary_id)
    assert (event.summary, event.start, event.end) == ("Moved", T0 + timedelta(hours=1), T0 + timedelta(hours=2))


async def test_creating_a_calendar_again_returns_the_first_one(harness: Harness) -> None:
    # given
    first = await harness.provider.create_calendar("CRM tasks")
    # when
    second = await harness.provider.create_calendar("CRM tasks")
    # then
    assert second.id == first.id
    names = [c.name for c in await harness.provider.list_calendars()]
    assert names.count("CRM tasks") == 1
