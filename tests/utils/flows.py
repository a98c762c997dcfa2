"""Multi-step user flows the tests share: connecting a calendar through the real OAuth dance."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.utils.graphql import GraphQLClient

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


async def authorize(authorization_url: str, **params: str) -> str:
    """Play the user at the provider: open the authorization URL and return where it redirects back to."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(httpx.URL(authorization_url).copy_merge_params(params))
    assert response.status_code in (302, 303), response.text
    return response.headers["location"]


async def oauth_callback(http: httpx.AsyncClient, redirect: str) -> dict[str, list[str]]:
    """Follow the provider's redirect into our callback; returns the dashboard redirect's query."""
    parts = urlsplit(redirect)
    response = await http.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)


async def connect_oauth(gql: GraphQLClient, http: httpx.AsyncClient, token: str, provider: str) -> dict[str, list[str]]:
    data = await gql(START, {"provider": provider}, token)
    result = data["startCalendarConnection"]
    assert result["__typename"] == "StartCalendarConnectionSuccess", result
    return await oauth_callback(http, await authorize(result["authorizationUrl"]))
