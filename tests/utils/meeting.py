"""Meetings: booked by a visitor on a page, or logged (and cancelled) by the owner's CRM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.utils.graphql import GraphQLClient, iso

MEETING_FIELDS = "id start end status contactEmail contactName title syncState pageId"

BOOK = f"""
mutation($input: BookMeetingInput!) {{ bookMeeting(input: $input) {{
  __typename
  ... on BookMeetingSuccess {{ meeting {{ {MEETING_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""

MY_MEETINGS = f"{{ me {{ meetings {{ {MEETING_FIELDS} }} }} }}"

CREATE_CRM_MEETING = f"""
mutation($input: CrmMeetingInput!) {{ createCrmMeeting(input: $input) {{
  __typename
  ... on MeetingSuccess {{ meeting {{ {MEETING_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""

CANCEL_MEETING = f"""
mutation($id: ID!) {{ cancelMeeting(id: $id) {{
  __typename
  ... on MeetingSuccess {{ meeting {{ {MEETING_FIELDS} }} }}
  ... on Error {{ message }} }} }}
"""

CONTACT_EMAIL = "carla@example.com"
CONTACT_NAME = "Carla Contact"


def booking_input(
    slug: str,
    start: datetime,
    *,
    email: str = CONTACT_EMAIL,
    name: str = CONTACT_NAME,
    domain: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """BOOK's variables."""
    fields = {"slug": slug, "start": iso(start), "contactEmail": email, "contactName": name, "domain": domain}
    if key is not None:
        fields["idempotencyKey"] = key
    return {"input": fields}


async def book(
    gql: GraphQLClient,
    slug: str,
    start: datetime,
    *,
    email: str = CONTACT_EMAIL,
    name: str = CONTACT_NAME,
    domain: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """bookMeeting as an anonymous visitor; returns the result union."""
    data = await gql(BOOK, booking_input(slug, start, email=email, name=name, domain=domain, key=key))
    result: dict[str, Any] = data["bookMeeting"]
    return result


async def my_meetings(gql: GraphQLClient, token: str) -> list[dict[str, Any]]:
    """The caller's meetings, with the fields a booking answers with."""
    data = await gql(MY_MEETINGS, token=token)
    found: list[dict[str, Any]] = data["me"]["meetings"]
    return found


def future_slots(count: int) -> list[datetime]:
    """`count` half-hour slots on the real clock, from tomorrow 00:00 UTC (for servers in their own processes)."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return [tomorrow + timedelta(minutes=30 * n) for n in range(count)]
