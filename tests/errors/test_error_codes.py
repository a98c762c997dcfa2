"""Every top-level error carries `extensions.code` (Apollo Server's names), over HTTP and WebSockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from websockets.exceptions import ConnectionClosed

from tests.subscriptions.conftest import authorized
from tests.utils.attempts import ATTEMPTS
from tests.utils.errors import CLIENT_MISTAKES, SETTINGS_OF_ME
from tests.utils.graphql import GraphQLClient
from tests.utils.live import Live
from tests.utils.page import create_page
from tests.utils.user import create_user


@pytest.mark.parametrize("mistake", list(CLIENT_MISTAKES))
async def test_each_client_mistake_has_its_code(gql: GraphQLClient, mistake: str) -> None:
    # given
    query, variables, code = CLIENT_MISTAKES[mistake]
    _, token = await create_user(gql, "ada@example.com")
    page = await create_page(gql, token)
    variables = {k: page["slug"] if v == "PAGE" else v for k, v in variables.items()}
    # when
    body = await gql.raw(query, variables)
    # then
    assert [error["extensions"]["code"] for error in body["errors"]] == [code], body


@pytest.mark.parametrize(
    ("query", "rule"),
    [
        (" ".join(f"a{i}: me {{ id }}" for i in range(40)).join("{}"), "MAX_ALIASES_EXCEEDED"),
        ("{ me { " + " ".join(["id"] * 3000) + " } }", "MAX_TOKENS_EXCEEDED"),
    ],
)
async def test_the_servers_limits_are_validation_failures_that_name_the_rule(
    gql: GraphQLClient, query: str, rule: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    body = await gql.raw(query, token=token)
    # then
    assert body.get("data") is None
    extensions = body["errors"][0]["extensions"]
    assert extensions == {"code": "GRAPHQL_VALIDATION_FAILED", "validationErrorCode": rule}, body


async def test_unexpected_errors_are_masked_and_coded(gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("resolvers.settings.settings_for", broken)
    # when
    body = await gql.raw(SETTINGS_OF_ME, token=token)
    # then
    assert body["errors"] == [
        {
            "message": "Unexpected error.",
            "locations": [{"line": 1, "column": 8}],
            "path": ["me", "calendarSettings"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]


async def test_a_non_admin_creating_a_user_gets_the_typed_permission_error(gql: GraphQLClient) -> None:
    """Admin-only operations answer in their result union (`PermissionRequiredError`), not a top-level FORBIDDEN."""
    # given
    _, token = await create_user(gql, "ada@example.com")
    # when
    body = await gql.raw(
        """mutation { createUser(input: {email: "eve@example.com", name: "Eve"}) { __typename } }""", token=token
    )
    # then
    assert body == {"data": {"createUser": {"__typename": "PermissionRequiredError"}}}


async def test_websocket_errors_carry_codes(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    user_id, token = await create_user(live.gql, "ada@example.com")
    await create_page(live.gql, token)

    async def broken(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("resolvers.settings.settings_for", broken)
    async with authorized(live, token) as ws:
        # when
        await ws.subscribe("unknown", "subscription { nope }")
        unknown = await ws.receive()
        await ws.subscribe("query", SETTINGS_OF_ME)
        masked = await ws.receive()
        completed = await ws.receive()
        for n in range(5):
            await ws.subscribe(f"s{n}", ATTEMPTS)
        await live.listening.wait(user_id, 5)
        await ws.subscribe("s5", ATTEMPTS)
        over_limit = await ws.receive()
    # then
    assert unknown["type"] == "error" and unknown["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert masked["type"] == "next" and completed["type"] == "complete", masked
    assert masked["payload"]["errors"][0]["message"] == "Unexpected error."
    assert masked["payload"]["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert over_limit["type"] == "error" and over_limit["payload"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_subscription_failing_unexpectedly_is_masked_and_coded(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    _, token = await create_user(live.gql, "ada@example.com")

    async def broken_stream(*_: object) -> AsyncIterator[None]:
        raise RuntimeError("secret internal detail")
        yield

    monkeypatch.setattr("resolvers.attempts.stream", broken_stream)
    async with authorized(live, token) as ws:
        # when
        await ws.subscribe("broken", ATTEMPTS)
        message = await ws.receive()
    # then
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["message"] == "Unexpected error." and "secret" not in str(message), message
    assert errors[0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}, message


async def test_a_syntax_error_over_websocket_closes_the_socket_as_the_protocol_says(live: Live) -> None:
    """graphql-transport-ws answers an unparsable document with close code 4400 (a close frame has no code field)."""
    # given
    _, token = await create_user(live.gql, "ada@example.com")
    async with authorized(live, token) as ws:
        # when
        await ws.subscribe("syntax", "subscription { bookingAttempts { ")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive()
    # then
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert closed.value.rcvd.reason.startswith("Syntax Error")
