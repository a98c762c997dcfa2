"""Incremental delta rounds, applied to a store, always end where a fresh full sync would: whatever the edits
between rounds (adds, moves in and out of the window, deletes, status changes, series) and however small the pages."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from emulators.state import EmulatedEvent, EmulatedRecurrence
from providers.base import SyncBatch, SyncedEvent
from tests.sync.microsoft.conftest import SyncWorld

DAY = timedelta(days=1)


def apply(store: dict[str, SyncedEvent], batch: SyncBatch) -> None:
    if batch.full:
        store.clear()
    for event_id in batch.removed:
        store.pop(event_id, None)
    for event in batch.changed:
        store[event.id] = event


def edit(world: SyncWorld, rng: random.Random, events: list[EmulatedEvent], span: int) -> None:
    start = world.clock().replace(hour=0, minute=0, second=0)
    live = [e for e in events if not e.cancelled]
    action = rng.choice(["add", "add", "series", "move", "delete", "status"] if live else ["add"])
    if action in ("add", "series"):
        at = start + rng.randrange(-3, span + 3) * DAY + timedelta(hours=rng.randrange(24))
        recurrence = EmulatedRecurrence("daily", count=rng.randrange(2, 6)) if action == "series" else None
        events.append(world.state.add_event(world.primary_id, at, at + timedelta(hours=1), recurrence=recurrence))
        return
    target = rng.choice(live)
    if action == "move":
        at = start + rng.randrange(-3, span + 3) * DAY
        target.start, target.end = at, at + timedelta(minutes=rng.choice([30, 60, 90]))
    elif action == "delete":
        target.cancelled = True
    else:
        target.show_as = rng.choice(["free", "busy", "tentative", "oof"])


@pytest.mark.parametrize("seed", range(8))
async def test_incremental_rounds_converge_to_the_full_listing(world: SyncWorld, seed: int) -> None:
    # given
    rng = random.Random(seed)
    span = 10
    start = world.clock().replace(hour=0, minute=0, second=0)
    end = start + span * DAY
    world.provider.delta_page_size = 3
    events: list[EmulatedEvent] = []
    for _ in range(8):
        edit(world, rng, events, span)
    store: dict[str, SyncedEvent] = {}
    batch = await world.provider.sync_events(world.primary_id, None, start, end)
    apply(store, batch)
    cursor = batch.cursor

    for _ in range(6):
        # when
        for _ in range(rng.randrange(1, 8)):
            edit(world, rng, events, span)
        batch = await world.provider.sync_events(world.primary_id, cursor, start, end)
        apply(store, batch)
        cursor = batch.cursor

        # then
        fresh = await world.provider.sync_events(world.primary_id, None, start, end)
        assert not batch.full
        assert {e.id: (e.start, e.end, e.blocks) for e in store.values()} == {
            e.id: (e.start, e.end, e.blocks) for e in fresh.changed
        }
