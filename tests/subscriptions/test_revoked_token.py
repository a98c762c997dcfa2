"""A WebSocket authenticated with a token that is then revoked receives nothing more, on a live server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.subscriptions.conftest import GraphQLWebSocket, authorized
from tests.utils.attempts import ATTEMPTS, SLOT, summary
from tests.utils.live import Live
from tests.utils.meeting import book
from tests.utils.page import create_page
from tests.utils.user import create_user

CREATE_API_TOKEN = """mutation { createApiToken(name: "browser") {
  ... on CreateApiTokenSuccess { token apiToken { id } } } }"""

REVOKE_API_TOKEN = "mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }"

ME = "{ me { email } }"


async def _until_completed(client: GraphQLWebSocket, operation_id: str) -> list[dict[str, Any]]:
    """The operation's messages up to its `complete` (or its `error`)."""
    messages = []
    while True:
        message = await client.receive()
        if message["type"] == "ping":
            await client.send({"type": "pong"})
            continue
        assert message.get("id") == operation_id, message
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


def _codes(messages: list[dict[str, Any]]) -> list[str]:
    errors = [e for m in messages if m["type"] == "next" for e in m["payload"].get("errors", [])]
    errors += [e for m in messages if m["type"] == "error" for e in m["payload"]]
    return [e["extensions"]["code"] for e in errors]


async def test_a_subscription_on_a_revoked_token_ends_and_its_connection_is_refused_further(live: Live) -> None:
    # given: ada's browser subscribes with a token of its own, and receives
    ada_id, ada = await create_user(live.gql, "ada@example.com")
    await create_page(live.gql, ada, slug="ada", timezone="Europe/Berlin")
    browser = (await live.gql(CREATE_API_TOKEN, token=ada))["createApiToken"]
    async with authorized(live, browser["token"]) as ws:
        await ws.subscribe("a", ATTEMPTS)
        await live.listening.wait(ada_id)
        await book(live.gql, "ada", SLOT)
        assert summary(await ws.next_data("a"))[0] == "REQUESTED"
        # when: the token is revoked, then another booking is published to the subscription
        revoked = await live.gql(REVOKE_API_TOKEN, {"id": browser["apiToken"]["id"]}, ada)
        assert revoked["revokeApiToken"]["__typename"] == "DisconnectSuccess"
        await book(live.gql, "ada", SLOT + timedelta(hours=1), email="dora@example.com")
        # then: no attempt reaches the connection; the subscription ends unauthenticated
        ended = await _until_completed(ws, "a")
        assert not any(m["type"] == "next" and m["payload"].get("data") for m in ended), ended
        assert _codes(ended) == ["UNAUTHENTICATED"]
        # and a new operation on the same connection is refused too
        await ws.send({"id": "q", "type": "subscribe", "payload": {"query": ME}})
        asked = await _until_completed(ws, "q")
        assert _codes(asked) == ["UNAUTHENTICATED"], asked
    # the other token still works
    assert (await live.gql(ME, token=ada))["me"]["email"] == "ada@example.com"


async def test_queries_on_a_connection_whose_token_was_revoked_are_refused(live: Live) -> None:
    # given
    _, ada = await create_user(live.gql, "ada@example.com")
    browser = (await live.gql(CREATE_API_TOKEN, token=ada))["createApiToken"]
    async with authorized(live, browser["token"]) as ws:
        await ws.send({"id": "before", "type": "subscribe", "payload": {"query": ME}})
        before = await _until_completed(ws, "before")
        assert before[0]["payload"]["data"] == {"me": {"email": "ada@example.com"}}
        # when
        await live.gql(REVOKE_API_TOKEN, {"id": browser["apiToken"]["id"]}, ada)
        await ws.send({"id": "after", "type": "subscribe", "payload": {"query": ME}})
        after = await _until_completed(ws, "after")
    # then
    assert _codes(after) == ["UNAUTHENTICATED"], after
