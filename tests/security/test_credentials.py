"""Credentials (passwords, OAuth tokens) are never readable through the API, nor written to the logs."""

from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest
from sqlmodel import select

from db.models import CalendarConnection
from meetgraph.services import Services
from meetgraph.settings import Settings
from tests.utils.connection import START, authorize, connect_exchange
from tests.utils.emulators import EXCHANGE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.user import ME, create_user

SECRET_PASSWORD = "Tr0ub4dor-and-3-horses"
CONNECTION_FIELDS = {"id", "provider", "email", "status", "inactiveReason", "calendars", "capabilities"}

INTROSPECT = """
query($name: String!) { __type(name: $name) { fields { name } } }
"""
INPUT_FIELDS = """
query { __schema { types { name fields { name } } } }
"""
CREDENTIAL_WORDS = ("password", "token", "secret", "credential", "refresh", "verifier")


def _secrets_of(world: World) -> set[str]:
    """Every access and refresh token the emulators handed out."""
    found: set[str] = set()
    for state in (world.google, world.microsoft):
        found |= set(state.oauth.access_tokens) | set(state.oauth.refresh_tokens)
    return found


def _basic_auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_calendar_connection_type_has_no_credential_fields(gql: GraphQLClient) -> None:
    # when
    data = await gql(INTROSPECT, {"name": "CalendarConnection"})
    # then
    assert {f["name"] for f in data["__type"]["fields"]} == CONNECTION_FIELDS


async def test_no_output_type_exposes_a_credential_field(gql: GraphQLClient) -> None:
    # when
    data = await gql(INPUT_FIELDS)
    # then
    exposed = [
        f"{t['name']}.{f['name']}"
        for t in data["__schema"]["types"]
        if t["fields"] and not t["name"].startswith("__")
        for f in t["fields"]
        if any(word in f["name"].lower() for word in CREDENTIAL_WORDS)
    ]
    # the user's own API tokens, each shown once, at creation; `apiTokens` lists their names and dates only
    assert sorted(exposed) == [
        "CreateApiTokenSuccess.apiToken",
        "CreateApiTokenSuccess.token",
        "CreateUserSuccess.token",
        "Mutation.createApiToken",
        "Mutation.revokeApiToken",
        "User.apiTokens",
    ]


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_oauth_tokens_never_reach_responses_or_logs(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    services: Services,
    world: World,
    caplog: pytest.LogCaptureFixture,
    provider: str,
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    _, token = await create_user(gql, "ada@example.com")
    start = (await gql(START, {"provider": provider}, token))["startCalendarConnection"]
    redirect = await authorize(http, start["authorizationUrl"])
    # when
    callback = await http.get(redirect[redirect.index("/oauth/callback") :])
    seen = json.dumps(await gql(ME, token=token))
    # then
    issued = _secrets_of(world)
    assert issued, "the emulator issued no tokens"
    assert json.loads(seen)["me"]["calendarConnections"], seen
    leaks = [s for s in issued if s in seen or s in callback.headers["location"] or s in caplog.text]
    assert leaks == []
    async with services.sessionmaker() as session:
        stored = (await session.exec(select(CalendarConnection.credentials))).one()
    assert not [s for s in issued if s in stored]


@pytest.mark.parametrize("with_ews_url", [True, False], ids=["ews-url", "autodiscover"])
async def test_exchange_password_never_reaches_responses_logs_or_the_database(
    gql: GraphQLClient,
    services: Services,
    settings: Settings,
    world: World,
    caplog: pytest.LogCaptureFixture,
    with_ews_url: bool,
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    account = world.exchange.account(EXCHANGE_USER)
    assert account is not None
    account.password = SECRET_PASSWORD
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await connect_exchange(gql, token, settings if with_ews_url else None, password=SECRET_PASSWORD)
    seen = json.dumps(result) + json.dumps(await gql(ME, token=token))
    # then
    assert result["__typename"] == "ConnectCalendarSuccess", result
    forbidden = (SECRET_PASSWORD, _basic_auth(EXCHANGE_USER, SECRET_PASSWORD))
    assert not [s for s in forbidden if s in seen]
    assert not [s for s in forbidden if s in caplog.text]
    async with services.sessionmaker() as session:
        stored = (await session.exec(select(CalendarConnection.credentials))).one()
    assert SECRET_PASSWORD not in stored


async def test_refused_exchange_login_does_not_echo_or_log_the_password(
    gql: GraphQLClient, settings: Settings, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.DEBUG)
    _, token = await create_user(gql, "ada@example.com")
    # when
    result = await connect_exchange(gql, token, settings, password=SECRET_PASSWORD)
    # then
    assert result["__typename"] == "ProviderError"
    assert SECRET_PASSWORD not in json.dumps(result)
    assert SECRET_PASSWORD not in caplog.text
    assert _basic_auth(EXCHANGE_USER, SECRET_PASSWORD) not in caplog.text
