"""poll_due rounds by the injected clock: POLL calendars after the poll interval, PUSH calendars after the safety
net, never-synced calendars at once, channel renewals not scheduled yet; one job per calendar per round."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, delete, update

from db.models import Calendar, Job
from meetgraph import sync
from meetgraph.services import Services
from providers.base import UnsupportedOperation
from tests.sync.engine.conftest import Owner
from tests.sync.engine.scripted import Script, event
from tests.utils.clock import FakeClock
from tests.utils.jobs import jobs_of_kind, run_due


async def test_a_polled_calendar_is_synced_once_per_poll_interval(
    services: Services, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given: synced just now
    await run_due(services)
    assert await sync.poll_due(services) == 0
    # when: the interval has not passed
    clock.advance(seconds=services.settings.sync_poll_seconds - 1)
    assert await sync.poll_due(services) == 0
    # when: it has; two processes run the round
    clock.advance(seconds=1)
    script.put(owner.provider_calendar_id, event("a", clock() + timedelta(hours=1)))
    assert await sync.poll_due(services) == 1
    assert await sync.poll_due(services) == 0
    # then
    assert await run_due(services) == [sync.SYNC_CALENDAR]
    assert [call.cursor is None for call in script.sync_calls] == [True, False]
    assert await sync.poll_due(services) == 0


async def test_a_pushed_calendar_is_polled_only_as_a_safety_net(
    services: Services, script: Script, clock: FakeClock, pushed: Owner
) -> None:
    # given
    script.channel_lifetime = timedelta(days=30)
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    # when
    clock.advance(seconds=services.settings.sync_poll_seconds * 2)
    assert await sync.poll_due(services) == 0
    clock.advance(seconds=services.settings.sync_safety_net_seconds)
    # then
    assert await sync.poll_due(services) == 1
    assert await run_due(services) == [sync.SYNC_CALENDAR]


async def test_a_calendar_never_synced_is_polled_at_once(
    services: Services, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given: its first sync failed for good
    async with services.sessionmaker() as session:
        await session.exec(delete(Job))  # type: ignore[call-overload]
        await session.commit()
    # when / then
    assert await sync.poll_due(services) == 1
    assert await run_due(services) == [sync.SYNC_CALENDAR]
    assert len(script.sync_calls) == 1


async def test_an_unscheduled_renewal_is_enqueued_by_the_round(
    services: Services, script: Script, clock: FakeClock, pushed: Owner
) -> None:
    # given: a channel whose renewal job was lost (pruned, an operator's mistake)
    script.channel_lifetime = timedelta(hours=5)
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    async with services.sessionmaker() as session:
        await session.exec(delete(Job).where(col(Job.kind) == sync.RENEW_CHANNEL))  # type: ignore[call-overload]
        await session.exec(update(Calendar).values(synced_at=clock() + timedelta(days=1)))  # type: ignore[call-overload]
        await session.commit()
    # when: not yet within the renewal margin
    assert await sync.poll_due(services) == 0
    clock.advance(hours=4)
    # then
    assert await sync.poll_due(services) == 1
    assert await sync.poll_due(services) == 0
    assert await run_due(services) == [sync.RENEW_CHANNEL]
    assert len(await jobs_of_kind(services, sync.RENEW_CHANNEL)) == 2


async def test_a_calendar_whose_provider_offers_no_sync_stays_live_and_is_not_polled(
    services: Services, script: Script, clock: FakeClock, owner: Owner
) -> None:
    # given
    script.failures.append(UnsupportedOperation("no sync here"))
    await run_due(services)
    # when
    clock.advance(seconds=services.settings.sync_poll_seconds * 10)
    # then
    assert await sync.poll_due(services) == 0
    async with services.sessionmaker() as session:
        calendar = await session.get(Calendar, owner.calendar_id)
    assert calendar is not None and (calendar.sync_mode.value, calendar.synced_at) == ("LIVE", None)


async def test_the_poller_runs_a_round_at_start_and_then_by_the_injected_clock(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    rounds: list[datetime] = []
    ran = asyncio.Event()

    async def counted(_: Services) -> int:
        rounds.append(clock())
        ran.set()
        return 0

    monkeypatch.setattr(sync, "poll_due", counted)
    poller = sync.Poller(services)
    try:
        # when
        poller.start()
        await asyncio.wait_for(ran.wait(), timeout=10)
        # then
        assert rounds == [clock()]
        # when: a round's worth of the injected clock passes
        ran.clear()
        clock.advance(seconds=min(services.settings.sync_poll_seconds, 60))
        await asyncio.wait_for(ran.wait(), timeout=10)
        # then
        assert rounds == [rounds[0], clock()]
    finally:
        await poller.stop()
