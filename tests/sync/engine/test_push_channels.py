"""Push channels: opened after the first sync where PUBLIC_URL is https, refused -> polled, renewed before the
expiry the provider answered (Google: a new channel, the old one stopped; Graph: in place), expired -> polled
until a new watch, stopped on disconnect."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
from sqlmodel import col, select

from db.models import Calendar, CalendarEvent, PushChannel
from meetgraph import sync
from meetgraph.services import Services
from providers.base import ProviderUnavailable, PushUnsupported
from tests.sync.engine.conftest import Owner, channels_of, connected_owner
from tests.sync.engine.scripted import Script, event
from tests.utils.clock import FakeClock
from tests.utils.connection import DISCONNECT_CALENDAR
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.jobs import jobs_of_kind, run_due

SYNC_MODE = "{ me { calendarConnections { calendars { id syncMode } } } }"


async def sync_mode(gql: GraphQLClient, owner: Owner) -> str:
    data = await gql(SYNC_MODE, token=owner.token)
    (mode,) = [
        c["syncMode"]
        for conn in data["me"]["calendarConnections"]
        for c in conn["calendars"]
        if c["id"] == str(owner.calendar_id)
    ]
    return str(mode)


async def test_a_watch_follows_the_first_sync_and_the_calendar_is_pushed(
    services: Services, gql: GraphQLClient, script: Script, clock: FakeClock, pushed: Owner
) -> None:
    # when
    assert await run_due(services) == [sync.SYNC_CALENDAR]
    assert await sync_mode(gql, pushed) == "POLL"
    assert await run_due(services) == [sync.WATCH_CALENDAR]
    # then
    (watch,) = script.watches
    (channel,) = await channels_of(services, pushed.calendar_id)
    assert (channel.channel_id, channel.provider, channel.expires_at) == (watch.channel_id, "GOOGLE", watch.expires_at)
    assert channel.token_hash == hashlib.sha256(script.tokens[watch.channel_id].encode()).hexdigest()
    assert len(script.tokens[watch.channel_id]) >= 43
    assert await sync_mode(gql, pushed) == "PUSH"
    (renewal,) = await jobs_of_kind(services, sync.RENEW_CHANNEL)
    assert renewal.run_at == watch.expires_at - timedelta(seconds=services.settings.sync_renew_before_seconds)


async def test_no_watch_without_an_https_public_url(
    services: Services, gql: GraphQLClient, script: Script, owner: Owner
) -> None:
    # when
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    # then
    assert await jobs_of_kind(services, sync.WATCH_CALENDAR) == []
    assert script.watches == []
    assert await sync_mode(gql, owner) == "POLL"


async def test_a_refused_watch_leaves_the_calendar_polled_and_is_asked_again_a_day_later(
    services: Services, gql: GraphQLClient, script: Script, clock: FakeClock, pushed: Owner
) -> None:
    # given
    script.watch_failures.append(PushUnsupported("subscriptions cover the user's own mailbox only"))
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    assert await sync_mode(gql, pushed) == "POLL"
    # when: synced again the same day
    clock.advance(minutes=10)
    await sync.request_sync(services, [pushed.calendar_id])
    assert await run_due(services) == [sync.SYNC_CALENDAR]
    # then: not asked again
    assert await run_due(services) == []
    assert len(await jobs_of_kind(services, sync.WATCH_CALENDAR)) == 1
    # when: a day later
    clock.advance(days=1)
    await sync.request_sync(services, [pushed.calendar_id])
    await run_due(services)
    assert await run_due(services) == [sync.WATCH_CALENDAR]
    # then
    assert len(script.watches) == 1
    assert await sync_mode(gql, pushed) == "PUSH"


async def test_google_renewal_runs_before_the_answered_expiry_and_stops_the_old_channel(
    services: Services, script: Script, clock: FakeClock, pushed: Owner
) -> None:
    # given: a channel the provider gave 3 hours
    script.channel_lifetime = timedelta(hours=3)
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    (old,) = script.watches
    before = timedelta(seconds=services.settings.sync_renew_before_seconds)
    # when: just before the renewal is due
    clock.set(old.expires_at - before - timedelta(seconds=1))
    assert sync.RENEW_CHANNEL not in await run_due(services)
    # when: due
    clock.advance(seconds=2)
    assert await run_due(services) == [sync.RENEW_CHANNEL]
    # then: a new channel replaces the old one, which is stopped
    (renewed_from,) = script.renewals
    assert renewed_from.channel_id == old.channel_id
    (fresh,) = [w for w in script.watches if w.channel_id != old.channel_id]
    assert [c.channel_id for c in await channels_of(services, pushed.calendar_id)] == [fresh.channel_id]
    assert await run_due(services) == [sync.STOP_CHANNELS]
    assert [w.channel_id for w in script.stopped] == [old.channel_id]
    renewals = [job for job in await jobs_of_kind(services, sync.RENEW_CHANNEL) if job.state.value == "PENDING"]
    assert [job.run_at for job in renewals] == [fresh.expires_at - before]


async def test_graph_renewal_extends_the_subscription_in_place(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, script: Script, clock: FakeClock, world: World
) -> None:
    # given
    owner = await connected_owner(services, gql, http, "OFFICE365")
    services.settings.public_url = "https://meetgraph.test"
    script.renews_in_place = True
    script.channel_lifetime = timedelta(days=2)
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    (watch,) = script.watches
    (channel,) = await channels_of(services, owner.calendar_id)
    # when
    clock.set(watch.expires_at - timedelta(seconds=services.settings.sync_renew_before_seconds))
    assert await run_due(services) == [sync.RENEW_CHANNEL]
    # then
    (renewed,) = await channels_of(services, owner.calendar_id)
    assert (renewed.id, renewed.token_hash) == (channel.id, channel.token_hash)
    assert renewed.expires_at == clock() + timedelta(days=2)
    assert script.stopped == []


async def test_a_channel_that_expires_unrenewed_leaves_the_calendar_polled_until_a_new_watch(
    services: Services, gql: GraphQLClient, script: Script, clock: FakeClock, pushed: Owner
) -> None:
    # given: a channel whose renewals keep failing
    script.channel_lifetime = timedelta(hours=2)
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    (old,) = script.watches
    script.watch_failures.extend([ProviderUnavailable("503")] * 20)
    clock.set(old.expires_at - timedelta(minutes=30))
    assert await run_due(services) == [sync.RENEW_CHANNEL]
    # when: the channel expired
    clock.set(old.expires_at + timedelta(seconds=1))
    script.watch_failures.clear()
    assert await sync.poll_due(services) >= 1
    # then
    assert await sync_mode(gql, pushed) == "POLL"
    assert await channels_of(services, pushed.calendar_id) == []
    ran = await run_due(services)
    assert sync.WATCH_CALENDAR in ran
    assert len(script.watches) == 2
    assert await sync_mode(gql, pushed) == "PUSH"


async def test_disconnecting_stops_the_channels_and_drops_the_store(
    services: Services, gql: GraphQLClient, script: Script, clock: FakeClock, pushed: Owner
) -> None:
    # given
    script.put(pushed.provider_calendar_id, event("a", clock() + timedelta(days=1)))
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    (watch,) = script.watches
    # when
    result = await gql(DISCONNECT_CALENDAR, {"id": str(pushed.connection_id)}, pushed.token)
    assert result["disconnectCalendar"]["__typename"] == "DisconnectSuccess", result
    # then: the connection is gone, the job still has what stopping needs (its credentials)
    assert await run_due(services) == [sync.STOP_CHANNELS]
    assert [w.channel_id for w in script.stopped] == [watch.channel_id]
    assert script.detached == 1
    async with services.sessionmaker() as session:
        assert (await session.exec(select(PushChannel))).all() == []
        assert (await session.exec(select(CalendarEvent))).all() == []
        assert (await session.exec(select(Calendar).where(col(Calendar.id) == pushed.calendar_id))).first() is None
