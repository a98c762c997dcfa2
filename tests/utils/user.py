"""Users: created through createUser with the admin token; `me` is everything a user sees of their own rows."""

from __future__ import annotations

from typing import Any

from tests.utils.graphql import GraphQLClient
from tests.utils.settings import CALENDAR_SETTINGS_FIELDS

ADMIN_TOKEN = "test-admin-token"
"""The app's admin token in the tests' settings; createUser needs it."""

CREATE_USER = """
mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) {
    __typename
    ... on CreateUserSuccess { token user { id accountId email } }
    ... on Error { message }
    ... on ValidationError { field }
  }
}
"""

ME = f"""
query {{ me {{ id accountId email name personalEmailAccess
  calendarConnections {{ id provider email status
    calendars {{ id name isPrimary status isAvailabilityCalendar selectableForAvailability }}
    capabilities {{ cancelMeetings rescheduleMeetings twoWaySync insertTimesInEmail }} }}
  emailInboxes {{ id address shared }}
  calendarSettings {{ {CALENDAR_SETTINGS_FIELDS} }}
  schedulingPages {{ id slug url active }}
  meetings {{ id status }}
  domains {{ id hostname robotsDisallowMeetings }} }} }}
"""


async def create_user(gql: GraphQLClient, email: str, name: str = "Test User", **extra: Any) -> tuple[str, str]:
    """A new user through createUser; returns (user id, API token)."""
    data = await gql(CREATE_USER, {"input": {"email": email, "name": name, **extra}}, ADMIN_TOKEN)
    result = data["createUser"]
    assert result["__typename"] == "CreateUserSuccess", result
    return result["user"]["id"], result["token"]


async def me(gql: GraphQLClient, token: str) -> dict[str, Any]:
    """The caller's `me` as ME selects it."""
    data: dict[str, Any] = (await gql(ME, token=token))["me"]
    return data
