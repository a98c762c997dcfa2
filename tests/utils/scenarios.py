"""Set-ups the connection, settings and security tests share: connected calendars, pages, domains, settings."""

from __future__ import annotations

from typing import Any

import httpx

from meetgraph.settings import Settings
from tests.utils.emulators import EXCHANGE_PASSWORD, EXCHANGE_USER
from tests.utils.flows import CONNECT_EXCHANGE, START, authorize, oauth_callback
from tests.utils.graphql import GraphQLClient
from tests.utils.user import me


def ews_url(settings: Settings) -> str:
    """The Exchange emulator's EWS endpoint (the autodiscover URL tells where the emulator is mounted)."""
    autodiscover = settings.exchange_autodiscover_url
    assert autodiscover is not None
    return autodiscover.replace("/autodiscover/autodiscover.svc", "/EWS/Exchange.asmx")


async def connect_calendar(
    gql: GraphQLClient, http: httpx.AsyncClient, token: str, provider: str = "GOOGLE", **params: str
) -> dict[str, Any]:
    """Connect through the OAuth dance; returns the new connection as `me` shows it."""
    start = (await gql(START, {"provider": provider}, token))["startCalendarConnection"]
    assert start["__typename"] == "StartCalendarConnectionSuccess", start
    outcome = await oauth_callback(http, await authorize(start["authorizationUrl"], **params))
    assert "connected" in outcome, outcome
    (connection,) = [c for c in (await me(gql, token))["calendarConnections"] if c["id"] == outcome["connected"][0]]
    return connection


async def connect_exchange(
    gql: GraphQLClient, token: str, settings: Settings | None = None, **overrides: str | None
) -> dict[str, Any]:
    """The connectExchangeCalendar result (EWS URL given when settings are passed, else autodiscover)."""
    values: dict[str, str | None] = {"email": EXCHANGE_USER, "password": EXCHANGE_PASSWORD}
    if settings is not None:
        values["ewsUrl"] = ews_url(settings)
    values.update(overrides)
    result: dict[str, Any] = (await gql(CONNECT_EXCHANGE, {"input": values}, token))["connectExchangeCalendar"]
    return result
