"""Calendar settings: saveCalendarSettings and the mutations that answer with the settings too."""

from __future__ import annotations

from typing import Any

from tests.utils.graphql import GraphQLClient

CALENDAR_SETTINGS_FIELDS = """calendarSync taskSync schedulingPagesEnabled meetingUrlPrefix pagesActive
    chatIncludeMeetingLink availabilityCalendars { id } inactiveCalendars { id }
    defaultMeetingLink { id } meetingDomain { id hostname } chatMeetingLink { id }"""

SETTINGS_RESULT = f"""__typename
  ... on CalendarSettingsSuccess {{ settings {{ {CALENDAR_SETTINGS_FIELDS} }} }}
  ... on Error {{ message }} ... on ValidationError {{ field }}"""
"""The selection of a CalendarSettingsResult, the answer of every mutation below."""

SAVE_SETTINGS = f"""
mutation($input: CalendarSettingsInput!) {{ saveCalendarSettings(input: $input) {{
  {SETTINGS_RESULT} }} }}
"""

DISABLE_PAGES = f"mutation {{ disableSchedulingPages {{ {SETTINGS_RESULT} }} }}"

ENABLE_PAGES = f"mutation {{ enableSchedulingPages {{ {SETTINGS_RESULT} }} }}"

REMOVE_INACTIVE_CALENDAR = f"mutation($id: ID!) {{ removeInactiveCalendar(calendarId: $id) {{ {SETTINGS_RESULT} }} }}"


async def save_settings(gql: GraphQLClient, token: str, **changes: Any) -> dict[str, Any]:
    """saveCalendarSettings with `changes` as CalendarSettingsInput; returns the result union, whatever it is."""
    result: dict[str, Any] = (await gql(SAVE_SETTINGS, {"input": changes}, token))["saveCalendarSettings"]
    return result


async def save_settings_ok(gql: GraphQLClient, token: str, **changes: Any) -> dict[str, Any]:
    """saveCalendarSettings that must succeed (a set-up step); returns the saved settings."""
    result = await save_settings(gql, token, **changes)
    assert result["__typename"] == "CalendarSettingsSuccess", result
    settings: dict[str, Any] = result["settings"]
    return settings
