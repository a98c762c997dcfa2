"""The OAuth flow completes only in the browser that opened the authorization URL (RFC 9700 §4.7.1: the state
is bound to the user agent); every other browser lands on the dashboard with an error and nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from meetgraph.app import create_app
from meetgraph.services import Services
from tests.utils.connection import START, consent, oauth_callback, open_authorization, start_connection
from tests.utils.db import counts
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user, me

NOTHING = {"CalendarConnection": 0, "Calendar": 0, "EmailInbox": 0}


@pytest.fixture
async def victim_browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same server (its own cookie jar); `http` is the first one."""
    transport = httpx.ASGITransport(app=create_app(services.settings, services=services, migrate=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://meetgraph.test") as client:
        yield client


async def test_the_victims_browser_completing_the_attackers_flow_stores_nothing(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    victim_browser: httpx.AsyncClient,
    services: Services,
    world: World,
) -> None:
    # given: the attacker opened their authorization URL and sends the provider's page on to the victim
    _, attacker = await create_user(gql, "mallory@example.com")
    at_provider = await open_authorization(http, await start_connection(gql, attacker))
    # when: the victim consents and is redirected to our callback in their own browser
    outcome = await oauth_callback(victim_browser, await consent(at_provider))
    # then
    assert outcome["error"] == ["wrong_browser"] and "connected" not in outcome
    assert (await me(gql, attacker))["calendarConnections"] == []
    assert await counts(services) == NOTHING


async def test_the_default_outcome_page_tells_the_other_browser_what_to_do(
    gql: GraphQLClient, http: httpx.AsyncClient, victim_browser: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given: no DASHBOARD_URL, so the server's own outcome page
    services.settings.dashboard_url = None
    _, token = await create_user(gql, "ada@example.com")
    at_provider = await open_authorization(http, await start_connection(gql, token))
    parts = urlsplit(await consent(at_provider))
    # when
    landed = await victim_browser.get(f"{parts.path}?{parts.query}", follow_redirects=True)
    # then
    assert landed.status_code == 200 and "started in another browser" in landed.text


async def test_the_browser_that_opened_the_url_connects(
    gql: GraphQLClient, http: httpx.AsyncClient, victim_browser: httpx.AsyncClient, world: World
) -> None:
    # given: a callback from another browser was refused
    _, token = await create_user(gql, "ada@example.com")
    at_provider = await open_authorization(http, await start_connection(gql, token))
    redirect = await consent(at_provider)
    refused = await oauth_callback(victim_browser, redirect)
    # when: the browser that opened the URL comes back
    outcome = await oauth_callback(http, redirect)
    # then
    assert refused["error"] == ["wrong_browser"]
    assert "connected" in outcome, outcome
    assert [c["id"] for c in (await me(gql, token))["calendarConnections"]] == outcome["connected"]


async def test_an_authorization_url_opened_in_a_second_browser_goes_nowhere(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    victim_browser: httpx.AsyncClient,
    services: Services,
    world: World,
) -> None:
    # given: the first browser opened it
    _, token = await create_user(gql, "ada@example.com")
    url = await start_connection(gql, token)
    at_provider = await open_authorization(http, url)
    # when: a second browser opens the same URL, and completes the first one's flow
    second = await victim_browser.get(url)
    completed = await oauth_callback(victim_browser, await consent(at_provider))
    # then: the second browser is sent to the dashboard with an error, with no cookie of the flow
    assert second.status_code == 303 and "set-cookie" not in second.headers
    assert parse_qs(urlsplit(second.headers["location"]).query)["error"] == ["wrong_browser"]
    assert completed["error"] == ["wrong_browser"]
    assert await counts(services) == NOTHING
    # and the first browser may open it again (a reload) and still connect
    reopened = await open_authorization(http, url)
    assert urlsplit(reopened).path == urlsplit(at_provider).path
    assert "connected" in await oauth_callback(http, await consent(reopened))


async def test_the_flows_cookie_is_httponly_lax_scoped_and_cleared_by_the_callback(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given
    services.settings.public_url = "https://meetgraph.test"
    _, token = await create_user(gql, "ada@example.com")
    url = await start_connection(gql, token)
    # when
    opened = await http.get(url)
    redirect = await consent(opened.headers["location"])
    parts = urlsplit(redirect)
    callback = await http.get(f"https://meetgraph.test{parts.path}?{parts.query}")
    # then
    assert url.startswith("https://meetgraph.test/oauth/start/")
    set_cookie = opened.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=lax", "secure", "path=/oauth/", f"max-age={600}"):
        assert attribute in set_cookie, set_cookie
    assert "connected" in parse_qs(urlsplit(callback.headers["location"]).query)
    cleared = callback.headers["set-cookie"].lower()
    assert cleared.startswith(set_cookie.split("=")[0] + '=""') and "max-age=0" in cleared, cleared


async def test_two_flows_in_two_tabs_of_one_browser_keep_their_own_cookies(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given: Google opened in one tab, then Office 365 in another
    _, token = await create_user(gql, "ada@example.com")
    google = await open_authorization(http, await start_connection(gql, token, "GOOGLE"))
    await open_authorization(http, await start_connection(gql, token, "OFFICE365"))
    # when: the first tab comes back
    outcome = await oauth_callback(http, await consent(google))
    # then
    assert "connected" in outcome, outcome
    assert [c["provider"] for c in (await me(gql, token))["calendarConnections"]] == ["GOOGLE"]


async def _start_in_browser(browser: httpx.AsyncClient, token: str, **headers: str) -> str:
    """startCalendarConnection asked by a page in `browser` (the headers a browser's fetch sends)."""
    response = await browser.post(
        "/graphql",
        json={"query": START, "variables": {"provider": "GOOGLE"}},
        headers={"authorization": f"Bearer {token}", **headers},
    )
    result = response.json()["data"]["startCalendarConnection"]
    assert result["__typename"] == "StartCalendarConnectionSuccess", result
    return str(result["authorizationUrl"])


SAME_ORIGIN_FETCHES = [
    pytest.param({"sec-fetch-site": "same-origin"}, id="sec-fetch-site"),
    pytest.param({"origin": "PUBLIC_ORIGIN"}, id="origin"),
]


def _browser_headers(headers: dict[str, str], services: Services) -> dict[str, str]:
    public = urlsplit(services.settings.public_url)
    return {k: f"{public.scheme}://{public.netloc}" if v == "PUBLIC_ORIGIN" else v for k, v in headers.items()}


@pytest.mark.parametrize("headers", SAME_ORIGIN_FETCHES)
async def test_a_url_asked_by_a_page_of_our_origin_is_bound_before_anyone_opens_it(
    headers: dict[str, str],
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    victim_browser: httpx.AsyncClient,
    services: Services,
    world: World,
) -> None:
    # given: the attacker's dashboard asks for a URL and sends it, never opened, to the victim
    _, attacker = await create_user(gql, "mallory@example.com")
    url = await _start_in_browser(http, attacker, **_browser_headers(headers, services))
    # when: the victim opens it first
    opened = await victim_browser.get(urlsplit(url).path)
    # then: it goes nowhere, and nothing is stored
    assert opened.status_code == 303
    assert parse_qs(urlsplit(opened.headers["location"]).query)["error"] == ["wrong_browser"]
    assert "set-cookie" not in opened.headers
    assert (await me(gql, attacker))["calendarConnections"] == []
    assert await counts(services) == NOTHING


@pytest.mark.parametrize("headers", SAME_ORIGIN_FETCHES)
async def test_the_browser_that_asked_for_the_url_connects_with_it(
    headers: dict[str, str], gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World
) -> None:
    # given: the flow's cookie came with the mutation's answer
    _, token = await create_user(gql, "ada@example.com")
    url = await _start_in_browser(http, token, **_browser_headers(headers, services))
    # when
    outcome = await oauth_callback(http, await consent(await open_authorization(http, url)))
    # then
    assert "connected" in outcome, outcome
    assert [c["id"] for c in (await me(gql, token))["calendarConnections"]] == outcome["connected"]


async def test_a_page_of_another_origin_gets_no_cookie_and_the_first_opener_owns_the_flow(
    gql: GraphQLClient, http: httpx.AsyncClient, victim_browser: httpx.AsyncClient, world: World
) -> None:
    # given: a fetch from another site (its cookies would not be ours to set)
    _, token = await create_user(gql, "ada@example.com")
    response = await http.post(
        "/graphql",
        json={"query": START, "variables": {"provider": "GOOGLE"}},
        headers={"authorization": f"Bearer {token}", "origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    url = response.json()["data"]["startCalendarConnection"]["authorizationUrl"]
    # when
    opened = await open_authorization(victim_browser, url)
    # then
    assert "set-cookie" not in response.headers
    assert opened.startswith(("http://", "https://")) and "wrong_browser" not in opened
