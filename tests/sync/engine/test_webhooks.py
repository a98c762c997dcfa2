"""POST /webhooks/google and /webhooks/microsoft over HTTP: a notification is believed only with its channel's
secret (no provider call, nothing enqueued otherwise), the Graph validation handshake, lifecycle events, and a
flood of notifications coalesced into at most one sync running plus one waiting."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from db.models import PushChannel
from meetgraph import sync
from meetgraph.services import Services
from tests.sync.engine.conftest import Owner, channels_of, connected_owner
from tests.sync.engine.scripted import Script
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.jobs import jobs_of_kind, run_due


async def pushed_channel(services: Services, owner: Owner) -> PushChannel:
    """The owner's first sync, watch and the sync that follows it run: one live channel."""
    await run_due(services)
    await run_due(services)
    await run_due(services)  # the sync that follows a new channel
    (channel,) = await channels_of(services, owner.calendar_id)
    return channel


def google_headers(channel_id: str, token: str, state: str = "exists") -> dict[str, str]:
    return {
        "X-Goog-Channel-ID": channel_id,
        "X-Goog-Channel-Token": token,
        "X-Goog-Resource-State": state,
        "X-Goog-Resource-ID": "resource",
        "X-Goog-Message-Number": "2",
    }


async def pending_syncs(services: Services) -> int:
    return len([j for j in await jobs_of_kind(services, sync.SYNC_CALENDAR) if j.state.value == "PENDING"])


async def test_a_google_notification_with_the_channel_token_enqueues_a_sync(
    services: Services, http: httpx.AsyncClient, script: Script, pushed: Owner
) -> None:
    # given
    channel = await pushed_channel(services, pushed)
    calls = len(script.sync_calls)
    # when
    response = await http.post(
        "/webhooks/google", headers=google_headers(channel.channel_id, script.tokens[channel.channel_id])
    )
    # then: answered before any sync ran
    assert response.status_code == 200
    assert len(script.sync_calls) == calls
    assert await run_due(services) == [sync.SYNC_CALENDAR]
    assert len(script.sync_calls) == calls + 1


async def test_the_google_sync_handshake_enqueues_nothing(
    services: Services, http: httpx.AsyncClient, script: Script, pushed: Owner
) -> None:
    channel = await pushed_channel(services, pushed)
    response = await http.post(
        "/webhooks/google", headers=google_headers(channel.channel_id, script.tokens[channel.channel_id], "sync")
    )
    assert response.status_code == 200
    assert await pending_syncs(services) == 0


async def test_the_google_sync_handshake_of_a_channel_not_stored_yet_is_answered_and_enqueues_nothing(
    services: Services, http: httpx.AsyncClient, script: Script, pushed: Owner
) -> None:
    # given: Google sends `sync` as it opens the channel, before the watch call has answered
    await pushed_channel(services, pushed)
    # when
    response = await http.post("/webhooks/google", headers=google_headers("not-stored-yet", "its-token", "sync"))
    # then
    assert response.status_code == 200
    assert await pending_syncs(services) == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"channel": "known", "token": "wrong"}, 403),
        ({"channel": "known", "token": None}, 403),
        ({"channel": "unknown", "token": "right"}, 404),
        ({"channel": None, "token": "right"}, 404),
    ],
)
async def test_a_google_notification_without_its_secret_costs_nothing(
    services: Services,
    http: httpx.AsyncClient,
    script: Script,
    pushed: Owner,
    headers: dict[str, Any],
    status: int,
) -> None:
    # given
    channel = await pushed_channel(services, pushed)
    calls = len(script.sync_calls)
    sent = {"X-Goog-Resource-State": "exists"}
    if headers["channel"] is not None:
        sent["X-Goog-Channel-ID"] = channel.channel_id if headers["channel"] == "known" else "f" * 36
    if headers["token"] is not None:
        sent["X-Goog-Channel-Token"] = script.tokens[channel.channel_id] if headers["token"] == "right" else "x" * 43
    # when
    response = await http.post("/webhooks/google", headers=sent)
    # then
    assert response.status_code == status
    assert await pending_syncs(services) == 0
    assert await run_due(services) == []
    assert len(script.sync_calls) == calls


async def test_fifty_notifications_cost_at_most_two_provider_syncs(
    services: Services, http: httpx.AsyncClient, script: Script, pushed: Owner
) -> None:
    # given: a sync in flight, held at the provider
    channel = await pushed_channel(services, pushed)
    headers = google_headers(channel.channel_id, script.tokens[channel.channel_id])
    assert (await http.post("/webhooks/google", headers=headers)).status_code == 200
    calls = len(script.sync_calls)
    script.gate, script.entered = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(run_due(services))
    await asyncio.wait_for(script.entered.wait(), timeout=10)
    # when: fifty notifications arrive meanwhile
    for _ in range(50):
        assert (await http.post("/webhooks/google", headers=headers)).status_code == 200
    script.gate.set()
    await asyncio.wait_for(running, timeout=10)
    while await run_due(services):
        pass
    # then: the one in flight and one more
    assert len(script.sync_calls) - calls == 2


async def test_the_graph_validation_handshake_echoes_the_token_as_plain_text(http: httpx.AsyncClient) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 3b3f9821"
    response = await http.post("/webhooks/microsoft", params={"validationToken": token})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == token


async def test_an_overlong_validation_token_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/webhooks/microsoft", params={"validationToken": "x" * 5000})
    assert response.status_code == 400


@pytest.mark.parametrize("body", [b"{not json", b'{"value": 3}', b"[1, 2]", b'{"value": ["a"]}'])
async def test_a_malformed_graph_notification_is_a_bad_request(http: httpx.AsyncClient, body: bytes) -> None:
    response = await http.post("/webhooks/microsoft", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400


@pytest.fixture
async def graph_owner(
    services: Services, gql: GraphQLClient, http: httpx.AsyncClient, script: Script, world: World
) -> Owner:
    owner = await connected_owner(services, gql, http, "OFFICE365")
    services.settings.public_url = "https://meetgraph.test"
    return owner


def graph_notification(channel: PushChannel, client_state: str, **extra: str) -> bytes:
    item = {"subscriptionId": channel.channel_id, "clientState": client_state, "tenantId": "t", **extra}
    if "lifecycleEvent" not in extra:
        item.update(changeType="updated", resource="me/events/AAMk")
    return json.dumps({"value": [item]}).encode()


async def post_graph(http: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await http.post("/webhooks/microsoft", content=body, headers={"content-type": "application/json"})


async def test_a_graph_change_with_its_client_state_enqueues_a_sync_and_a_wrong_one_nothing(
    services: Services, http: httpx.AsyncClient, script: Script, graph_owner: Owner
) -> None:
    # given
    channel = await pushed_channel(services, graph_owner)
    calls = len(script.sync_calls)
    # when: a forged one
    response = await post_graph(http, graph_notification(channel, "forged-client-state"))
    # then
    assert response.status_code == 202
    assert await run_due(services) == []
    assert len(script.sync_calls) == calls
    # when: a genuine one
    response = await post_graph(http, graph_notification(channel, script.tokens[channel.channel_id]))
    # then
    assert response.status_code == 202
    assert await run_due(services) == [sync.SYNC_CALENDAR]
    assert len(script.sync_calls) == calls + 1


async def test_a_missed_lifecycle_notification_syncs_at_once(
    services: Services, http: httpx.AsyncClient, script: Script, graph_owner: Owner
) -> None:
    channel = await pushed_channel(services, graph_owner)
    body = graph_notification(channel, script.tokens[channel.channel_id], lifecycleEvent="missed")
    assert (await post_graph(http, body)).status_code == 202
    assert await run_due(services) == [sync.SYNC_CALENDAR]


async def test_reauthorization_required_renews_at_once(
    services: Services, http: httpx.AsyncClient, script: Script, graph_owner: Owner
) -> None:
    # given: a subscription far from its renewal
    script.renews_in_place = True
    channel = await pushed_channel(services, graph_owner)
    body = graph_notification(channel, script.tokens[channel.channel_id], lifecycleEvent="reauthorizationRequired")
    # when
    assert (await post_graph(http, body)).status_code == 202
    # then
    assert await run_due(services) == [sync.RENEW_CHANNEL]
    assert [w.channel_id for w in script.renewals] == [channel.channel_id]


async def test_subscription_removed_opens_a_new_one(
    services: Services, http: httpx.AsyncClient, script: Script, graph_owner: Owner
) -> None:
    channel = await pushed_channel(services, graph_owner)
    body = graph_notification(channel, script.tokens[channel.channel_id], lifecycleEvent="subscriptionRemoved")
    assert (await post_graph(http, body)).status_code == 202
    assert await channels_of(services, graph_owner.calendar_id) == []
    assert await run_due(services) == [sync.WATCH_CALENDAR]
    (fresh,) = await channels_of(services, graph_owner.calendar_id)
    assert fresh.channel_id != channel.channel_id


async def test_refused_notifications_are_counted_in_one_log_line(
    services: Services, http: httpx.AsyncClient, script: Script, pushed: Owner, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    channel = await pushed_channel(services, pushed)
    # when
    for _ in range(5):
        response = await http.post("/webhooks/google", headers=google_headers(channel.channel_id, "forged"))
        assert response.status_code == 403
    # then
    lines = [r for r in caplog.records if r.name == "meetgraph.webhooks"]
    (line,) = lines
    assert line.levelname == "WARNING" and "wrong channel token" in line.getMessage()
