"""Graph change notifications, emulated and spoken to: subscriptions with the validation handshake, change and
lifecycle notifications to the app's webhook, expiry, renewal and stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from emulators.microsoft_push import MAX_EXPIRY_MINUTES
from providers.base import PushUnsupported, Watch
from tests.sync.microsoft.conftest import WAIT_SECONDS, WEBHOOK, SyncWorld

TOKEN = "s3cret-channel-token"


async def subscribe(world: SyncWorld, calendar_id: str | None = None) -> Watch:
    return await world.provider.watch(calendar_id or world.primary_id, channel_id="ch-1", address=WEBHOOK, token=TOKEN)


async def test_a_subscription_is_validated_then_notifies_changes_with_the_client_state(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)
    start = world.clock() + timedelta(days=1)

    # when
    event = world.state.add_event(world.primary_id, start, start + timedelta(hours=1))
    created = await world.webhook.next()
    event.show_as = "tentative"
    updated = await world.webhook.next()
    async with world.graph() as graph:
        assert (await graph.delete(f"/me/events/{event.id}")).status_code == 204
    deleted = await world.webhook.next()

    # then
    assert world.webhook.validations == ["/webhooks/microsoft", "/webhooks/microsoft"]  # notification + lifecycle
    assert watch.channel_id in world.push.subscriptions
    assert watch.resource_id == f"me/calendars/{world.primary_id}/events"
    assert [created["changeType"], updated["changeType"], deleted["changeType"]] == ["created", "updated", "deleted"]
    assert {n["clientState"] for n in (created, updated, deleted)} == {TOKEN}
    assert {n["subscriptionId"] for n in (created, updated, deleted)} == {watch.channel_id}
    data = created["resourceData"]
    assert isinstance(data, dict) and data["id"] == event.id and data["@odata.type"] == "#Microsoft.Graph.Event"
    assert str(created["resource"]).endswith(f"/Events/{event.id}")


async def test_changes_of_other_calendars_are_not_notified(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)
    start = world.clock() + timedelta(days=1)

    # when
    world.state.add_event(world.second_id, start, start + timedelta(hours=1))
    world.state.add_event(world.primary_id, start, start + timedelta(hours=1), "mine")

    # then
    only = await world.webhook.next()
    assert only["subscriptionId"] == watch.channel_id
    assert world.webhook.nothing_more()


@pytest.mark.parametrize("answer", ["wrong", "json", "refuse"])
async def test_a_webhook_that_fails_validation_gets_no_subscription(world: SyncWorld, answer: str) -> None:
    # given
    world.webhook.validation = answer

    # then
    with pytest.raises(PushUnsupported):
        await subscribe(world)
    assert world.push.subscriptions == {}
    assert [d.kind for d in world.push.deliveries] == ["validation"]


async def test_an_origin_without_route_is_unreachable(world: SyncWorld) -> None:
    # when
    with pytest.raises(PushUnsupported):
        await world.provider.watch(
            world.primary_id, channel_id="c", address="https://elsewhere.test/webhooks/microsoft", token=TOKEN
        )

    # then
    assert world.push.subscriptions == {}
    assert world.push.deliveries[0].error == "unreachable"


async def test_a_plain_http_address_is_refused_before_any_request(world: SyncWorld) -> None:
    with pytest.raises(PushUnsupported):
        await world.provider.watch(
            world.primary_id, channel_id="c", address="http://app.meetgraph.test/webhooks/microsoft", token=TOKEN
        )
    assert world.calls["subscriptions.create"] == 0


async def test_an_http_notification_url_is_refused_by_graph_too(world: SyncWorld) -> None:
    async with world.graph() as graph:
        answer = await graph.post(
            "/subscriptions",
            json={
                "changeType": "updated",
                "notificationUrl": "http://app.meetgraph.test/webhooks/microsoft",
                "resource": "me/events",
                "expirationDateTime": (world.clock() + timedelta(days=1)).isoformat(),
            },
        )
    assert answer.status_code == 400
    assert world.push.subscriptions == {}


async def test_a_calendar_shared_from_another_mailbox_cannot_be_subscribed_to(world: SyncWorld) -> None:
    with pytest.raises(PushUnsupported):
        await subscribe(world, world.shared_id)
    assert world.push.subscriptions == {}
    assert world.webhook.validations == []


async def test_an_expiry_beyond_the_maximum_is_refused(world: SyncWorld) -> None:
    # when
    async with world.graph() as graph:
        answer = await graph.post(
            "/subscriptions",
            json={
                "changeType": "created,updated,deleted",
                "notificationUrl": WEBHOOK,
                "resource": "me/events",
                "expirationDateTime": (world.clock() + timedelta(minutes=MAX_EXPIRY_MINUTES + 1)).isoformat(),
                "clientState": TOKEN,
            },
        )

    # then
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidRequest"
    assert world.push.subscriptions == {}


async def test_the_provider_asks_for_the_longest_expiry_and_keeps_the_answered_one(world: SyncWorld) -> None:
    watch = await subscribe(world)
    expiry = world.push.subscriptions[watch.channel_id].expires_at
    assert watch.expires_at == expiry
    assert timedelta(days=6, hours=23) < expiry - world.clock() <= timedelta(minutes=MAX_EXPIRY_MINUTES)


async def test_an_expired_subscription_notifies_nothing(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)
    start = world.clock() + timedelta(days=1)

    # when
    world.clock.advance(minutes=MAX_EXPIRY_MINUTES)
    world.state.add_event(world.primary_id, start, start + timedelta(hours=1))
    renewed = await world.provider.renew_watch(world.primary_id, watch, channel_id="ch-2", address=WEBHOOK, token=TOKEN)

    # then: the expired one is gone and renewing opened another, which alone notifies from now on (a notification
    # of the expired one, queued before, would arrive first)
    assert renewed.channel_id != watch.channel_id
    world.state.add_event(world.primary_id, start, start + timedelta(hours=2))
    assert (await world.webhook.next())["subscriptionId"] == renewed.channel_id
    assert {d.kind for d in world.push.deliveries_of(watch.channel_id)} == {"validation"}


async def test_a_stopped_subscription_notifies_nothing(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)
    other = await subscribe(world)
    start = world.clock() + timedelta(days=1)

    # when
    await world.provider.stop_watch(watch)
    await world.provider.stop_watch(watch)  # stopping twice is fine
    world.state.add_event(world.primary_id, start, start + timedelta(hours=1))

    # then
    assert (await world.webhook.next())["subscriptionId"] == other.channel_id
    assert world.webhook.nothing_more()
    assert watch.channel_id not in world.push.subscriptions


async def test_renewal_extends_the_subscription_in_place(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)

    # when
    world.clock.advance(days=3)
    renewed = await world.provider.renew_watch(world.primary_id, watch, channel_id="ch-2", address=WEBHOOK, token=TOKEN)

    # then
    assert renewed.channel_id == watch.channel_id
    assert renewed.expires_at - watch.expires_at == timedelta(days=3)
    assert list(world.push.subscriptions) == [watch.channel_id]


@pytest.mark.parametrize("event", ["reauthorizationRequired", "missed", "subscriptionRemoved"])
async def test_lifecycle_notifications_reach_the_lifecycle_url(world: SyncWorld, event: str) -> None:
    # given
    watch = await subscribe(world)

    # when
    await asyncio.wrap_future(world.push.send_lifecycle(watch.channel_id, event))
    notice = await world.webhook.next()

    # then
    assert notice["lifecycleEvent"] == event
    assert notice["subscriptionId"] == watch.channel_id and notice["clientState"] == TOKEN
    assert (watch.channel_id in world.push.subscriptions) is (event != "subscriptionRemoved")


async def test_a_notification_answered_with_500_is_retried(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)
    world.webhook.statuses = [500, 503]
    start = world.clock() + timedelta(days=1)

    # when
    world.state.add_event(world.primary_id, start, start + timedelta(hours=1))
    delivered = await world.webhook.next()

    # then
    assert delivered["changeType"] == "created"
    recorded = await asyncio.to_thread(world.push.wait_for_deliveries, watch.channel_id, "created", 3, WAIT_SECONDS)
    assert [d.status for d in recorded] == [500, 503, 202]


async def test_a_notification_never_answered_well_gives_up(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)
    world.webhook.statuses = [500] * 4
    start = world.clock() + timedelta(days=1)

    # when
    world.state.add_event(world.primary_id, start, start + timedelta(hours=1))
    recorded = await asyncio.to_thread(world.push.wait_for_deliveries, watch.channel_id, "created", 4, WAIT_SECONDS)
    await asyncio.wrap_future(world.push.send_lifecycle(watch.channel_id, "missed"))

    # then: four attempts (the bound), none more; the next notification goes through
    assert [d.status for d in recorded] == [500, 500, 500, 500]
    assert (await world.webhook.next())["lifecycleEvent"] == "missed"
    assert len([d for d in world.push.deliveries_of(watch.channel_id) if d.kind == "created"]) == 4


async def test_the_control_surface_lists_subscriptions_and_sends_lifecycle_notifications(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)

    # when
    async with httpx.AsyncClient(base_url=world.control_url, timeout=20) as control:
        sent = await control.post(f"/subscriptions/{watch.channel_id}/lifecycle", json={"event": "missed"})
        refused = await control.post(f"/subscriptions/{watch.channel_id}/lifecycle", json={"event": "bogus"})
        listed = (await control.get("/subscriptions")).json()

    # then
    assert sent.status_code == 200 and refused.status_code == 400
    assert (await world.webhook.next())["lifecycleEvent"] == "missed"
    assert [s["id"] for s in listed] == [watch.channel_id]
    assert {"kind": "missed", "status": 202, "error": None} in listed[0]["deliveries"]


async def test_unknown_subscriptions_answer_404(world: SyncWorld) -> None:
    async with world.graph() as graph:
        patched = await graph.patch("/subscriptions/nope", json={"expirationDateTime": world.clock().isoformat()})
        deleted = await graph.delete("/subscriptions/nope")
    assert (patched.status_code, deleted.status_code) == (404, 404)
    assert patched.json()["error"]["code"] == "ResourceNotFound"


async def test_a_renewal_beyond_the_maximum_is_refused_and_changes_nothing(world: SyncWorld) -> None:
    # given
    watch = await subscribe(world)

    # when
    async with world.graph() as graph:
        answer = await graph.patch(
            f"/subscriptions/{watch.channel_id}",
            json={"expirationDateTime": (world.clock() + timedelta(days=8)).isoformat()},
        )

    # then
    assert answer.status_code == 400
    assert world.push.subscriptions[watch.channel_id].expires_at == watch.expires_at


async def test_a_personal_account_subscribes_alike(world: SyncWorld) -> None:
    # given
    account = world.state.account(world.state.calendars[world.primary_id].owner_email)
    assert account is not None
    account.personal = True
    watch = await subscribe(world)
    start = world.clock() + timedelta(days=1)

    # when
    world.state.add_event(world.primary_id, start, start + timedelta(hours=1))

    # then
    assert (await world.webhook.next())["subscriptionId"] == watch.channel_id
