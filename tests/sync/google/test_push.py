"""Google watch channels end to end: GoogleCalendarProvider.watch / renew_watch / stop_watch against the emulator
over real HTTP, and the notifications the emulator delivers through its push routes to a webhook receiver."""

from __future__ import annotations

from datetime import timedelta

import pytest

from emulators.google_push import Delivery, GooglePush
from emulators.state import AccessRole as EmulatorRole
from providers.base import CalendarAccessLost, PushUnsupported, Watch
from providers.google import GoogleCalendarProvider
from tests.providers.harness_google import ACCOUNT, GoogleWorld
from tests.sync.google.conftest import WEBHOOK, Receiver, api_call, primary_id, wait_for
from tests.utils.clock import FakeClock

T0 = FakeClock().current + timedelta(days=6)


def of(channel_id: str, deliveries: list[Delivery]) -> list[Delivery]:
    return [d for d in deliveries if d.channel_id == channel_id]


async def open_channel(
    world: GoogleWorld, provider: GoogleCalendarProvider, channel_id: str, token: str = "secret"
) -> Watch:
    return await provider.watch(primary_id(world), channel_id=channel_id, address=WEBHOOK, token=token)


async def test_an_address_that_is_not_https_is_push_unsupported_before_any_request(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # when / then
    with pytest.raises(PushUnsupported):
        await provider.watch(
            primary_id(world), channel_id="c1", address="http://app.meetgraph.test/webhooks/google", token="t"
        )
    assert world.calls["events.watch"] == 0


async def test_a_free_busy_share_cannot_be_watched_and_a_lost_calendar_is_access_lost(
    world: GoogleWorld, provider: GoogleCalendarProvider
) -> None:
    # given
    account = world.state.account(ACCOUNT)
    assert account is not None
    share = next(cid for cid, role in account.access.items() if role is EmulatorRole.FREE_BUSY)
    world.state.lose_access(ACCOUNT, primary_id(world))
    # when / then
    with pytest.raises(PushUnsupported):
        await provider.watch(share, channel_id="c1", address=WEBHOOK, token="t")
    with pytest.raises(CalendarAccessLost):
        await open_channel(world, provider, "c2")


async def test_google_refuses_a_plain_http_address_itself(world: GoogleWorld) -> None:
    # when
    response = await api_call(
        world,
        "POST",
        f"/calendars/{primary_id(world)}/events/watch",
        json={"id": "c1", "type": "web_hook", "address": "http://app.meetgraph.test/hook"},
    )
    # then
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["reason"] == "push.webhookUrlNotHttps"


async def test_a_watch_sends_sync_then_exists_for_each_change_with_the_channels_headers(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush, receiver: Receiver
) -> None:
    # given
    watch = await open_channel(world, provider, "channel-1", token="s3cret")
    await wait_for(push, lambda found: len(found) == 1)
    # when
    event = world.state.add_event(primary_id(world), T0, T0 + timedelta(hours=1), "new")
    first = await wait_for(push, lambda found: len(found) >= 2)
    event.summary = "renamed"
    deliveries = await wait_for(push, lambda found: len(found) >= 3)
    # then
    assert [(d.resource_state, d.status) for d in deliveries] == [("sync", 200), ("exists", 200), ("exists", 200)]
    numbers = [int(headers["x-goog-message-number"]) for headers in receiver.received]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3 and numbers[0] == 1
    headers = receiver.received[-1]
    assert headers["x-goog-channel-id"] == "channel-1" and headers["x-goog-channel-token"] == "s3cret"
    assert headers["x-goog-resource-id"] == watch.resource_id and headers["x-goog-resource-state"] == "exists"
    assert headers["x-goog-resource-uri"].endswith("/events?alt=json")
    assert headers["x-goog-channel-expiration"].endswith(" GMT")
    assert len(first) == 2


async def test_a_channel_lives_as_long_as_google_answered_and_no_longer(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush, receiver: Receiver
) -> None:
    # given
    clock = FakeClock()
    world.state.clock = clock
    world.state.google_channel_ttl = timedelta(hours=1)
    short = await open_channel(world, provider, "short")
    clock.advance(minutes=30)
    longer = await open_channel(world, provider, "longer")
    await wait_for(push, lambda found: len(found) == 2)
    # when
    clock.advance(minutes=31)
    world.state.add_event(primary_id(world), T0, T0 + timedelta(hours=1))
    deliveries = await wait_for(push, lambda found: len(of("longer", found)) == 2)
    # then
    assert short.expires_at == FakeClock().current + timedelta(hours=1)
    assert longer.expires_at == short.expires_at + timedelta(minutes=30)
    assert [d.resource_state for d in of("short", deliveries)] == ["sync"]


async def test_a_stopped_channel_sends_nothing_and_stopping_twice_is_no_error(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush, receiver: Receiver
) -> None:
    # given
    stopped = await open_channel(world, provider, "stopped")
    await open_channel(world, provider, "kept")
    await wait_for(push, lambda found: len(found) == 2)
    # when
    await provider.stop_watch(stopped)
    await provider.stop_watch(stopped)
    world.state.add_event(primary_id(world), T0, T0 + timedelta(hours=1))
    deliveries = await wait_for(push, lambda found: len(of("kept", found)) == 2)
    # then
    assert [d.resource_state for d in of("stopped", deliveries)] == ["sync"]
    assert world.calls["channels.stop"] == 2


async def test_stopping_an_unknown_channel_is_404_from_google_and_no_error_from_the_provider(
    world: GoogleWorld, provider: GoogleCalendarProvider, receiver: Receiver
) -> None:
    # given
    watch = await open_channel(world, provider, "real")
    # when
    wrong_resource = await api_call(world, "POST", "/channels/stop", json={"id": "real", "resourceId": "other"})
    unknown = await api_call(world, "POST", "/channels/stop", json={"id": "nope", "resourceId": watch.resource_id})
    await provider.stop_watch(Watch("nope", watch.resource_id, watch.expires_at))
    stopped = await api_call(world, "POST", "/channels/stop", json={"id": "real", "resourceId": watch.resource_id})
    # then
    assert (wrong_resource.status_code, unknown.status_code, stopped.status_code) == (404, 404, 204)


async def test_a_duplicate_channel_id_is_refused(
    world: GoogleWorld, provider: GoogleCalendarProvider, receiver: Receiver
) -> None:
    # given
    await open_channel(world, provider, "same")
    # when
    response = await api_call(
        world,
        "POST",
        f"/calendars/{primary_id(world)}/events/watch",
        json={"id": "same", "type": "web_hook", "address": WEBHOOK},
    )
    # then
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["reason"] == "channelIdNotUnique"


async def test_renewing_opens_a_new_channel_beside_the_old(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush, receiver: Receiver
) -> None:
    # given
    old = await open_channel(world, provider, "old")
    # when
    new = await provider.renew_watch(primary_id(world), old, channel_id="new", address=WEBHOOK, token="secret")
    # then
    assert new.channel_id == "new" and new.resource_id == old.resource_id
    assert {c.id for c in push.channels.values() if push.live(c)} == {"old", "new"}


async def test_a_failing_receiver_is_retried_with_backoff(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush, receiver: Receiver
) -> None:
    # given
    receiver.statuses = [500, 503]
    # when
    await open_channel(world, provider, "retried")
    deliveries = await wait_for(push, lambda found: any(d.status == 200 for d in found))
    # then
    assert [(d.attempt, d.status, d.message_number) for d in deliveries] == [(1, 500, 1), (2, 503, 1), (3, 200, 1)]


async def test_retries_are_bounded(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush, receiver: Receiver
) -> None:
    # given
    receiver.statuses = [500] * 10
    # when
    await open_channel(world, provider, "failing")
    deliveries = await wait_for(push, lambda found: len(found) == push.retry_attempts)
    # then
    assert [d.status for d in deliveries] == [500] * push.retry_attempts
    assert len(receiver.received) == push.retry_attempts


async def test_a_client_error_is_not_retried(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush, receiver: Receiver
) -> None:
    # given
    receiver.statuses = [403]
    # when
    await open_channel(world, provider, "refused")
    world.state.add_event(primary_id(world), T0, T0 + timedelta(hours=1))
    deliveries = await wait_for(push, lambda found: len(found) == 2)
    # then
    assert [(d.resource_state, d.status) for d in deliveries] == [("sync", 403), ("exists", 200)]


async def test_an_origin_without_a_route_is_recorded_unreachable(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush
) -> None:
    # when
    await provider.watch(
        primary_id(world), channel_id="lost", address="https://elsewhere.test/webhooks/google", token="t"
    )
    deliveries = await wait_for(push, lambda found: len(found) == 1)
    # then
    (delivery,) = deliveries
    assert delivery.status is None and delivery.error is not None and "unreachable" in delivery.error


async def test_changes_in_other_calendars_send_nothing(
    world: GoogleWorld, provider: GoogleCalendarProvider, push: GooglePush, receiver: Receiver
) -> None:
    # given
    account = world.state.account(ACCOUNT)
    assert account is not None
    other = next(cid for cid, role in account.access.items() if role is EmulatorRole.OWNER and cid != primary_id(world))
    await open_channel(world, provider, "primary-only")
    await wait_for(push, lambda found: len(found) == 1)
    # when
    world.state.add_event(other, T0, T0 + timedelta(hours=1), "elsewhere")
    world.state.add_event(primary_id(world), T0, T0 + timedelta(hours=1), "here")
    deliveries = await wait_for(push, lambda found: len(found) >= 2)
    # then
    assert [d.resource_state for d in deliveries] == ["sync", "exists"]
