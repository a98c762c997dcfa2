"""Every way the OAuth callback can fail stores nothing and sends the browser to the dashboard with an error."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from sqlmodel import select

from db.models import OAuthState
from meetgraph.services import Services
from tests.utils.clock import FakeClock
from tests.utils.connection import authorize, consent, open_authorization, start_connection
from tests.utils.db import counts
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user, me

NOTHING = {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 0}
DASHBOARD = "http://dashboard.test/meetings"


def _with_params(redirect: str, **changes: str) -> str:
    parts = urlsplit(redirect)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _callback(http: httpx.AsyncClient, redirect: str) -> tuple[str, dict[str, list[str]]]:
    """Follow a redirect into our callback; returns the dashboard URL (without query) and its query."""
    parts = urlsplit(redirect)
    response = await http.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 303, response.text
    target = urlsplit(response.headers["location"])
    return urlunsplit(target._replace(query="")), parse_qs(target.query)


async def _assert_nothing_stored(gql: GraphQLClient, services: Services, token: str) -> None:
    state = await me(gql, token)
    assert state["calendarConnections"] == [] and state["emailInboxes"] == []
    assert state["calendarSettings"]["calendarSync"] is False
    assert state["calendarSettings"]["schedulingPagesEnabled"] is False
    assert await counts(services) == NOTHING


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_user_denying_consent_stores_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, provider: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token, provider), emulator_deny="1")
    # when
    target, outcome = await _callback(http, redirect)
    # then
    assert target == DASHBOARD
    assert outcome["error"] == ["access_denied"] and "connected" not in outcome
    await _assert_nothing_stored(gql, services, token)


@pytest.mark.parametrize("forged", ["", "forged", "eyJuIjoiYWJjIn0.forged.signature"])
async def test_forged_state_is_refused(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, forged: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token))
    # when
    target, outcome = await _callback(http, _with_params(redirect, state=forged))
    # then
    assert target == DASHBOARD and outcome["error"] == ["invalid_state"]
    await _assert_nothing_stored(gql, services, token)


async def test_tampered_state_signature_is_refused(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token))
    state = parse_qs(urlsplit(redirect).query)["state"][0]
    tampered = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
    # when
    _, outcome = await _callback(http, _with_params(redirect, state=tampered))
    # then
    assert outcome["error"] == ["invalid_state"]
    await _assert_nothing_stored(gql, services, token)


async def test_state_of_another_provider_is_refused(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given: a Google redirect delivered to the Office 365 callback
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token, "GOOGLE"))
    parts = urlsplit(redirect)
    # when
    _, outcome = await _callback(http, urlunsplit(parts._replace(path="/oauth/callback/office365")))
    # then
    assert outcome["error"] == ["invalid_state"]
    await _assert_nothing_stored(gql, services, token)


async def test_expired_state_is_refused(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, clock: FakeClock
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token))
    clock.advance(seconds=services.settings.oauth_state_ttl_seconds + 1)
    # when
    _, outcome = await _callback(http, redirect)
    # then
    assert outcome["error"] == ["invalid_state"]
    await _assert_nothing_stored(gql, services, token)


async def test_state_just_inside_its_lifetime_is_accepted(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, clock: FakeClock
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token))
    clock.advance(seconds=services.settings.oauth_state_ttl_seconds - 1)
    # when
    _, outcome = await _callback(http, redirect)
    # then
    assert "connected" in outcome, outcome


async def test_reused_state_is_refused_even_after_a_failure(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given: the first use failed (consent denied)
    _, token = await create_user(gql, "ada@example.com")
    at_provider = await open_authorization(http, await start_connection(gql, token))
    denied = await consent(at_provider, emulator_deny="1")
    await _callback(http, denied)
    granted = await consent(at_provider)
    # when: the same state comes back with a valid code
    _, outcome = await _callback(http, granted)
    # then
    assert outcome["error"] == ["invalid_state"]
    await _assert_nothing_stored(gql, services, token)


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_failed_token_exchange_stores_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, provider: str
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token, provider))
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    # when
    target, outcome = await _callback(http, _with_params(redirect, code=code + "tampered"))
    # then
    assert target == DASHBOARD
    assert outcome["error"] == ["ProviderFailure"] and "connected" not in outcome
    await _assert_nothing_stored(gql, services, token)


async def test_callback_without_code_stores_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token))
    parts = urlsplit(redirect)
    state = parse_qs(parts.query)["state"][0]
    # when
    _, outcome = await _callback(http, urlunsplit(parts._replace(query=urlencode({"state": state}))))
    # then
    assert outcome["error"] == ["missing_code"]
    await _assert_nothing_stored(gql, services, token)


async def test_unknown_provider_callback_is_refused(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token))
    parts = urlsplit(redirect)
    # when
    _, outcome = await _callback(http, urlunsplit(parts._replace(path="/oauth/callback/exchange")))
    # then
    assert outcome["error"] == ["unknown_provider"]
    await _assert_nothing_stored(gql, services, token)


async def test_failed_account_read_stores_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given: the token exchange works, then the calendar API refuses
    _, token = await create_user(gql, "ada@example.com")
    redirect = await authorize(http, await start_connection(gql, token))
    world.google.faults.fail_next = [403, 403, 403, 403]
    # when
    _, outcome = await _callback(http, redirect)
    # then
    assert outcome["error"] == ["ProviderFailure"]
    await _assert_nothing_stored(gql, services, token)


async def test_expired_states_are_pruned_when_a_flow_starts(
    gql: GraphQLClient, services: Services, clock: FakeClock, world: World
) -> None:
    # given: an abandoned flow
    _, token = await create_user(gql, "prune@example.com")
    await start_connection(gql, token)
    clock.advance(seconds=601)
    # when
    await start_connection(gql, token)
    # then
    async with services.sessionmaker() as session:
        states = (await session.exec(select(OAuthState))).all()
    assert len(states) == 1 and states[0].expires_at > clock()
