"""Scheduling pages: created and updated by their owner, and read as a visitor sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.utils.connection import connect
from tests.utils.graphql import GraphQLClient
from tests.utils.user import create_user

PAGE_FIELDS = """id name slug durationMinutes timezone url active offline bufferMinutes minimumNoticeMinutes
  weeklyHours { weekday start end }"""

CREATE_PAGE = f"""
mutation($input: SchedulingPageInput!) {{ createSchedulingPage(input: $input) {{
  __typename
  ... on SchedulingPageSuccess {{ page {{ {PAGE_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""

UPDATE_PAGE = f"""
mutation($id: ID!, $input: SchedulingPageInput!) {{ updateSchedulingPage(id: $id, input: $input) {{
  __typename
  ... on SchedulingPageSuccess {{ page {{ {PAGE_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""

AVAILABLE_SLOTS = """
query($slug: String!, $start: DateTime!, $end: DateTime!) { schedulingPage(slug: $slug) {
  offline availableSlots(start: $start, end: $end) { start end } } }
"""
"""The public page's free slots between two instants, as a visitor (no token) asks for them."""


async def create_page(gql: GraphQLClient, token: str, name: str = "Intro call", **fields: Any) -> dict[str, Any]:
    """A scheduling page through createSchedulingPage, which must succeed; `fields` are more
    SchedulingPageInput fields (a slug left out is generated from the name). Returns the page."""
    data = await gql(CREATE_PAGE, {"input": {"name": name, **fields}}, token)
    result = data["createSchedulingPage"]
    assert result["__typename"] == "SchedulingPageSuccess", result
    page: dict[str, Any] = result["page"]
    return page


ALL_WEEK = [{"weekday": day, "start": "00:00", "end": "24:00"} for day in range(1, 8)]
"""Weekly hours open around the clock: any future half hour can be booked (tests on the real clock)."""


@dataclass(frozen=True)
class PageOwner:
    user_id: str
    token: str
    slug: str


async def page_owner(
    gql: GraphQLClient, http: httpx.AsyncClient, email: str = "ada@example.com", provider: str | None = "GOOGLE"
) -> PageOwner:
    """A user with `provider`'s world account connected (none: an offline page) and a page open all week, in UTC."""
    user_id, token = await create_user(gql, email)
    if provider is not None:
        await connect(gql, http, token, provider)
    page = await create_page(gql, token, name="Intro", timezone="UTC", weeklyHours=ALL_WEEK)
    return PageOwner(user_id, token, page["slug"])
