"""Helpers for the pages, booking and subscription tests: pages, connections, bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.utils.emulators import EXCHANGE_PASSWORD, EXCHANGE_USER
from tests.utils.flows import CONNECT_EXCHANGE, connect_oauth
from tests.utils.graphql import GraphQLClient
from tests.utils.settings import save_settings_ok

MEETING_FIELDS = "id start end status contactEmail contactName title syncState pageId"

BOOK = f"""
mutation($input: BookMeetingInput!) {{ bookMeeting(input: $input) {{
  __typename
  ... on BookMeetingSuccess {{ meeting {{ {MEETING_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""

MY_MEETINGS = f"{{ me {{ meetings {{ {MEETING_FIELDS} }} }} }}"

MY_CALENDARS = "{ me { calendarConnections { id provider calendars { id name isPrimary status } } } }"

CONTACT_EMAIL = "carla@example.com"
CONTACT_NAME = "Carla Contact"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def connect(gql: GraphQLClient, http: httpx.AsyncClient, token: str, provider: str) -> None:
    """Connect the world's account of `provider`; Exchange also gets scheduling pages switched on."""
    if provider == "EXCHANGE":
        data = await gql(CONNECT_EXCHANGE, {"input": {"email": EXCHANGE_USER, "password": EXCHANGE_PASSWORD}}, token)
        assert data["connectExchangeCalendar"]["__typename"] == "ConnectCalendarSuccess", data
        await save_settings_ok(gql, token, schedulingPagesEnabled=True)
        return
    outcome = await connect_oauth(gql, http, token, provider)
    assert "connected" in outcome, outcome


async def calendar_ids(gql: GraphQLClient, token: str) -> dict[str, str]:
    """The caller's calendars by name -> API id."""
    data = await gql(MY_CALENDARS, token=token)
    return {c["name"]: c["id"] for conn in data["me"]["calendarConnections"] for c in conn["calendars"]}


async def book(
    gql: GraphQLClient,
    slug: str,
    start: datetime,
    *,
    email: str = CONTACT_EMAIL,
    name: str = CONTACT_NAME,
    domain: str | None = None,
) -> dict[str, Any]:
    """bookMeeting as an anonymous visitor; returns the result union."""
    data = await gql(
        BOOK,
        {"input": {"slug": slug, "start": iso(start), "contactEmail": email, "contactName": name, "domain": domain}},
    )
    result: dict[str, Any] = data["bookMeeting"]
    return result


async def my_meetings(gql: GraphQLClient, token: str) -> list[dict[str, Any]]:
    data = await gql(MY_MEETINGS, token=token)
    found: list[dict[str, Any]] = data["me"]["meetings"]
    return found
