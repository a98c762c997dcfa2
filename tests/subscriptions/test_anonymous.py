"""Anonymous WebSocket connections on a live server: a visitor with no token follows a public page
(availableSlotsChanged); everything else answers as over HTTP without a token; the per-connection subscription
cap and the per-address connection cap bound what one client holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from meetgraph.settings import Settings
from tests.subscriptions.conftest import PROTOCOL, GraphQLWebSocket
from tests.subscriptions.test_available_slots_changed import (
    SLOTS_CHANGED,
    WEDNESDAY_SLOTS,
    WINDOW,
    ada_with_page,
    booked,
    starts,
    subscribed,
    without,
)
from tests.subscriptions.test_revoked_token import ME, _codes, _until_completed
from tests.utils.attempts import ATTEMPTS
from tests.utils.clock import FakeClock
from tests.utils.live import SAFETY_TIMEOUT, Live, LiveDatabases, serve
from tests.utils.user import create_user

NO_PAYLOAD = object()
"""connection_init without a `payload` (the protocol makes it optional)."""


@asynccontextmanager
async def anonymous(live: Live, forwarded_for: str | None = None) -> AsyncIterator[GraphQLWebSocket]:
    """A connection acknowledged with no credentials; `forwarded_for` poses as the proxy's X-Forwarded-For (the
    test client connects from 127.0.0.1, which uvicorn trusts by default)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with connect(
        live.ws_url,
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=SAFETY_TIMEOUT,
    ) as connection:
        client = GraphQLWebSocket(connection)
        ack = await client.init({})
        assert ack["type"] == "connection_ack", ack
        yield client


@pytest.mark.parametrize(
    "payload",
    [NO_PAYLOAD, {}, {"authorization": None}, {"authorization": ""}],
    ids=["no-payload", "empty-payload", "null", "empty-string"],
)
async def test_a_visitor_without_a_token_follows_a_page(live: Live, payload: object) -> None:
    # given
    await ada_with_page(live)
    async with connect(live.ws_url, subprotocols=[PROTOCOL], open_timeout=SAFETY_TIMEOUT) as connection:  # type: ignore[list-item]
        client = GraphQLWebSocket(connection)
        init: dict[str, Any] = {"type": "connection_init"}
        if payload is not NO_PAYLOAD:
            init["payload"] = payload
        # when
        await client.send(init)
        ack = await client.receive()
        # then
        assert ack["type"] == "connection_ack", ack
        assert await subscribed(client, "s") == WEDNESDAY_SLOTS
        await booked(live, WEDNESDAY_SLOTS[3])
        assert starts(await client.next_data("s")) == without(WEDNESDAY_SLOTS[3])


async def test_operations_needing_a_token_answer_as_over_http_and_the_connection_stays_usable(live: Live) -> None:
    # given
    await ada_with_page(live)
    over_http = await live.http.post("/graphql", json={"query": ME})
    (http_error,) = over_http.json()["errors"]
    async with anonymous(live) as client:
        # when
        await client.subscribe("a", ATTEMPTS)
        attempts = await _until_completed(client, "a")
        await client.subscribe("q", ME)
        me = await _until_completed(client, "q")
        # then: the authentication error, typed, and no data
        assert _codes(attempts) == ["UNAUTHENTICATED"], attempts
        assert not any(m["type"] == "next" and m["payload"].get("data") for m in attempts), attempts
        (ws_error,) = [e for m in me if m["type"] == "next" for e in m["payload"]["errors"]]
        assert (ws_error["message"], ws_error["extensions"]) == (http_error["message"], http_error["extensions"])
        assert http_error["extensions"]["code"] == "UNAUTHENTICATED"
        # and the public subscription still works on the same connection
        assert await subscribed(client, "s") == WEDNESDAY_SLOTS


async def test_the_subscription_cap_applies_to_anonymous_connections(live: Live) -> None:
    # given
    await ada_with_page(live)
    async with anonymous(live) as client:
        for n in range(5):
            assert await subscribed(client, f"s{n}") == WEDNESDAY_SLOTS
        # when
        await client.subscribe("s5", SLOTS_CHANGED, WINDOW)
        refused = await client.receive()
        # then
        assert refused["type"] == "error" and refused["id"] == "s5", refused
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["BAD_REQUEST"]
        await booked(live, WEDNESDAY_SLOTS[0])
        updates = {}
        for _ in range(5):
            message = await client.receive()
            assert message["type"] == "next", message
            updates[message["id"]] = starts(message["payload"]["data"])
        assert updates == {f"s{n}": without(WEDNESDAY_SLOTS[0]) for n in range(5)}


async def test_connections_per_client_address_are_capped(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    capped = settings.model_copy(update={"max_ws_connections_per_client": 2})
    async with serve(capped, databases, clock) as live, AsyncExitStack() as held:
        # given: one address holds two connections
        first = await held.enter_async_context(anonymous(live, "203.0.113.5"))
        await held.enter_async_context(anonymous(live, "203.0.113.5"))
        # when: it asks for a third
        with pytest.raises(InvalidStatus) as refused:
            async with anonymous(live, "203.0.113.5"):
                pass
        # then: refused at the handshake, and nobody else is
        assert refused.value.response.status_code == 429
        assert refused.value.response.body is not None
        assert b"Too many WebSocket connections" in refused.value.response.body
        (line,) = [r for r in caplog.records if r.name == "meetgraph.websockets"]
        assert line.levelname == "WARNING" and "203.0.113.5" in line.getMessage()
        async with anonymous(live, "203.0.113.6") as other:
            await other.subscribe("q", "{ __typename }")
            assert await other.next_data("q") == {"__typename": "Query"}
        # and a connection it closes makes room for a new one
        await first.connection.close()
        await live.listening.websockets_gone(2)  # the other address's and this one
        async with anonymous(live, "203.0.113.5") as again:
            await again.subscribe("q", "{ __typename }")
            assert await again.next_data("q") == {"__typename": "Query"}


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "wrong"])
async def test_a_token_in_the_handshake_header_is_judged_like_one_in_connection_init(live: Live, valid: bool) -> None:
    # given
    _, ada = await create_user(live.gql, "ada@example.com")
    header = {"Authorization": f"Bearer {ada if valid else 'not-a-token'}"}
    async with connect(
        live.ws_url,
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers=header,
        open_timeout=SAFETY_TIMEOUT,
    ) as connection:
        client = GraphQLWebSocket(connection)
        # when: connection_init carries no credentials of its own
        await client.send({"type": "connection_init", "payload": {}})
        if not valid:
            # then
            with pytest.raises(ConnectionClosed) as closed:
                await client.receive()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            return
        # then
        assert (await client.receive())["type"] == "connection_ack"
        assert await client.execute("q", ME) == {"me": {"email": "ada@example.com"}}
