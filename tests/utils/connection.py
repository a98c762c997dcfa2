"""Calendar connections, and the email inboxes that come with them: the OAuth dance (start, the user at
the provider, our callback), Exchange by email and password, disconnecting, and the connected calendars."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from meetgraph.settings import Settings
from tests.utils.emulators import EXCHANGE_PASSWORD, EXCHANGE_USER
from tests.utils.graphql import GraphQLClient
from tests.utils.settings import save_settings_ok
from tests.utils.user import me

START = """
mutation($provider: CalendarProvider!) { startCalendarConnection(provider: $provider) {
  __typename ... on StartCalendarConnectionSuccess { authorizationUrl } ... on Error { message } } }
"""

CONNECT_EXCHANGE = """
mutation($input: ExchangeConnectionInput!) { connectExchangeCalendar(input: $input) {
  __typename
  ... on ConnectCalendarSuccess { connection { id provider email status
      calendars { id name isPrimary selectableForAvailability } } }
  ... on Error { message }
  ... on ValidationError { field } } }
"""

DISCONNECT_CALENDAR = """
mutation($id: ID!) { disconnectCalendar(connectionId: $id) {
  __typename ... on DisconnectSuccess { id } ... on Error { message } } }
"""

DISCONNECT_INBOX = """
mutation($id: ID!) { disconnectEmailInbox(inboxId: $id) {
  __typename ... on DisconnectSuccess { id } ... on Error { message } } }
"""

MY_CALENDARS = "{ me { calendarConnections { id provider calendars { id name isPrimary status } } } }"


async def start_connection(gql: GraphQLClient, token: str, provider: str = "GOOGLE") -> str:
    """startCalendarConnection, which must succeed; returns the authorization URL."""
    result = (await gql(START, {"provider": provider}, token))["startCalendarConnection"]
    assert result["__typename"] == "StartCalendarConnectionSuccess", result
    url: str = result["authorizationUrl"]
    return url


async def open_authorization(browser: httpx.AsyncClient, authorization_url: str) -> str:
    """The user's browser opens the authorization URL (a page of our server, which binds the flow to this
    browser with a cookie kept in the client's jar) and is sent on to the provider; returns the provider's URL.
    Like oauth_callback, it goes to the browser's own server (processes run with the default public URL)."""
    response = await browser.get(urlsplit(authorization_url).path)
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def consent(provider_url: str, **params: str) -> str:
    """Play the user at the provider: open its authorization page and return where it redirects back to."""
    async with httpx.AsyncClient() as provider_browser:
        response = await provider_browser.get(httpx.URL(provider_url).copy_merge_params(params))
    assert response.status_code in (302, 303), response.text
    return response.headers["location"]


async def authorize(browser: httpx.AsyncClient, authorization_url: str, **params: str) -> str:
    """Open the authorization URL in `browser` and consent at the provider; returns the redirect to our callback
    (to be followed in the same browser, see oauth_callback)."""
    return await consent(await open_authorization(browser, authorization_url), **params)


async def oauth_callback(http: httpx.AsyncClient, redirect: str) -> dict[str, list[str]]:
    """Follow the provider's redirect into our callback in the browser `http` (its cookies go along); returns
    the dashboard redirect's query."""
    parts = urlsplit(redirect)
    response = await http.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)


async def connect_oauth(
    gql: GraphQLClient, http: httpx.AsyncClient, token: str, provider: str, **params: str
) -> dict[str, list[str]]:
    """The whole OAuth dance (`params` go to the provider's authorization page); the start must succeed.
    Returns the dashboard redirect's query, whatever the outcome."""
    return await oauth_callback(http, await authorize(http, await start_connection(gql, token, provider), **params))


async def connect_calendar(
    gql: GraphQLClient, http: httpx.AsyncClient, token: str, provider: str = "GOOGLE", **params: str
) -> dict[str, Any]:
    """Connect through the OAuth dance, which must connect; returns the new connection as `me` shows it."""
    outcome = await connect_oauth(gql, http, token, provider, **params)
    assert "connected" in outcome, outcome
    (connection,) = [c for c in (await me(gql, token))["calendarConnections"] if c["id"] == outcome["connected"][0]]
    return connection


def ews_url(settings: Settings) -> str:
    """The Exchange emulator's EWS endpoint (the autodiscover URL tells where the emulator is mounted)."""
    autodiscover = settings.exchange_autodiscover_url
    assert autodiscover is not None
    return autodiscover.replace("/autodiscover/autodiscover.svc", "/EWS/Exchange.asmx")


async def connect_exchange(
    gql: GraphQLClient, token: str, settings: Settings | None = None, **overrides: str | None
) -> dict[str, Any]:
    """The connectExchangeCalendar result, unchecked (EWS URL given when settings are passed, else autodiscover)."""
    values: dict[str, str | None] = {"email": EXCHANGE_USER, "password": EXCHANGE_PASSWORD}
    if settings is not None:
        values["ewsUrl"] = ews_url(settings)
    values.update(overrides)
    result: dict[str, Any] = (await gql(CONNECT_EXCHANGE, {"input": values}, token))["connectExchangeCalendar"]
    return result


async def connect(gql: GraphQLClient, http: httpx.AsyncClient, token: str, provider: str) -> None:
    """Connect the world's account of `provider`, which must connect; Exchange (by autodiscover) also gets
    scheduling pages switched on."""
    if provider == "EXCHANGE":
        result = await connect_exchange(gql, token)
        assert result["__typename"] == "ConnectCalendarSuccess", result
        await save_settings_ok(gql, token, schedulingPagesEnabled=True)
        return
    outcome = await connect_oauth(gql, http, token, provider)
    assert "connected" in outcome, outcome


async def calendar_ids(gql: GraphQLClient, token: str) -> dict[str, str]:
    """The caller's calendars by name -> API id."""
    data = await gql(MY_CALENDARS, token=token)
    return {c["name"]: c["id"] for conn in data["me"]["calendarConnections"] for c in conn["calendars"]}
