"""Scheduling pages: created and updated by their owner, and read as a visitor sees them."""

from __future__ import annotations

from typing import Any

from tests.utils.graphql import GraphQLClient

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
