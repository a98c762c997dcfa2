"""Helpers for the pages, booking and subscription tests: pages, connections, bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.utils.graphql import GraphQLClient

MEETING_FIELDS = "id start end status contactEmail contactName title syncState pageId"

BOOK = f"""
mutation($input: BookMeetingInput!) {{ bookMeeting(input: $input) {{
  __typename
  ... on BookMeetingSuccess {{ meeting {{ {MEETING_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""

MY_MEETINGS = f"{{ me {{ meetings {{ {MEETING_FIELDS} }} }} }}"

CONTACT_EMAIL = "carla@example.com"
CONTACT_NAME = "Carla Contact"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


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
