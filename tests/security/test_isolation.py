"""One user can neither read nor change another user's rows, whatever ids they know or guess."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from meetgraph.services import Services
from tests.utils.connection import DISCONNECT_CALENDAR, DISCONNECT_INBOX, connect_calendar
from tests.utils.db import CONNECTED_ROWS, counts
from tests.utils.dns_server import DnsServer
from tests.utils.domain import SET_ROBOTS, VERIFY_DOMAIN, connect_verified_domain
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.meeting import CANCEL_MEETING, CREATE_CRM_MEETING
from tests.utils.page import UPDATE_PAGE, create_page
from tests.utils.settings import REMOVE_INACTIVE_CALENDAR, save_settings
from tests.utils.user import create_user, me

ATTACKS: dict[str, tuple[str, dict[str, Any]]] = {
    "disconnectCalendar": (DISCONNECT_CALENDAR, {}),
    "disconnectEmailInbox": (DISCONNECT_INBOX, {}),
    "updateSchedulingPage": (UPDATE_PAGE, {"input": {"name": "Mine now", "slug": "stolen"}}),
    "removeInactiveCalendar": (REMOVE_INACTIVE_CALENDAR, {}),
    "cancelMeeting": (CANCEL_MEETING, {}),
    "setDomainRobots": (SET_ROBOTS, {"disallow": True}),
    "verifyDomain": (VERIFY_DOMAIN, {}),
}
"""Each mutation that takes a row's id: its document and its other variables."""
SETTINGS_ATTACKS: dict[str, Callable[[str], dict[str, Any]]] = {
    "availabilityCalendarIds": lambda key: {"availabilityCalendarIds": [key]},
    "defaultMeetingLinkId": lambda key: {"defaultMeetingLinkId": key},
    "chatMeetingLinkId": lambda key: {"chatMeetingLinkId": key, "chatIncludeMeetingLink": True},
    "meetingDomainId": lambda key: {"meetingDomainId": key},
}
MALFORMED_IDS = ["", "not-an-id", "1 OR 1=1", "../../etc/passwd", "0" * 5000, "00000000-0000-0000-0000-000000000000"]


async def _owner_with_everything(
    gql: GraphQLClient, http: httpx.AsyncClient, dns: DnsServer
) -> tuple[str, dict[str, str]]:
    """User A with a connection, calendars, inbox, page, meeting and verified domain; returns A's token and the ids."""
    _, token = await create_user(gql, "ada@example.com")
    connection = await connect_calendar(gql, http, token)
    calendar = next(c for c in connection["calendars"] if c["name"] == "Team events")
    page = await create_page(gql, token, "Intro call", slug="ada-intro")
    domain = await connect_verified_domain(gql, dns, token, "ada.example.com")
    await save_settings(gql, token, availabilityCalendarIds=[calendar["id"]])
    meeting = await gql(
        CREATE_CRM_MEETING,
        {
            "input": {
                "contactEmail": "c@example.com",
                "title": "Hi",
                "start": "2026-12-02T10:00:00Z",
                "end": "2026-12-02T10:30:00Z",
                "fromIntegration": True,
            }
        },
        token,
    )
    assert meeting["createCrmMeeting"]["__typename"] == "MeetingSuccess", meeting
    inbox = (await me(gql, token))["emailInboxes"][0]
    return token, {
        "connection": connection["id"],
        "calendar": calendar["id"],
        "inbox": inbox["id"],
        "page": page["id"],
        "meeting": meeting["createCrmMeeting"]["meeting"]["id"],
        "domain": domain["id"],
    }


async def _attack(gql: GraphQLClient, mutation: str, key: str, token: str) -> dict[str, Any]:
    """`mutation` on the row with id `key`, as the user of `token`; returns its result."""
    document, variables = ATTACKS[mutation]
    result: dict[str, Any] = (await gql(document, {"id": key, **variables}, token))[mutation]
    return result


ATTACK_TARGETS = {
    "disconnectCalendar": "connection",
    "disconnectEmailInbox": "inbox",
    "updateSchedulingPage": "page",
    "removeInactiveCalendar": "calendar",
    "cancelMeeting": "meeting",
    "setDomainRobots": "domain",
    "verifyDomain": "domain",
}
SETTINGS_TARGETS = {
    "availabilityCalendarIds": "calendar",
    "defaultMeetingLinkId": "page",
    "chatMeetingLinkId": "page",
    "meetingDomainId": "domain",
}


async def test_me_shows_nothing_of_another_users_rows(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, dns: DnsServer
) -> None:
    # given
    _, ids = await _owner_with_everything(gql, http, dns)
    _, intruder = await create_user(gql, "eve@example.com")
    # when
    seen = await me(gql, intruder)
    # then
    assert seen["calendarConnections"] == [] and seen["emailInboxes"] == []
    assert seen["schedulingPages"] == [] and seen["meetings"] == [] and seen["domains"] == []
    assert seen["calendarSettings"]["availabilityCalendars"] == []
    text = json.dumps(seen)
    assert not [name for name, key in ids.items() if key in text]
    assert GOOGLE_USER not in text


@pytest.mark.parametrize("mutation", sorted(ATTACKS))
async def test_known_ids_of_another_user_cannot_be_changed(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, dns: DnsServer, mutation: str
) -> None:
    # given
    owner, ids = await _owner_with_everything(gql, http, dns)
    _, intruder = await create_user(gql, "eve@example.com")
    before, rows = await me(gql, owner), await counts(services, *CONNECTED_ROWS)
    # when
    result = await _attack(gql, mutation, ids[ATTACK_TARGETS[mutation]], intruder)
    # then
    assert result["__typename"] == "NotFoundError", result
    assert await me(gql, owner) == before
    assert await counts(services, *CONNECTED_ROWS) == rows


@pytest.mark.parametrize("field", sorted(SETTINGS_ATTACKS))
async def test_another_users_ids_cannot_go_into_settings(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, dns: DnsServer, field: str
) -> None:
    # given
    owner, ids = await _owner_with_everything(gql, http, dns)
    _, intruder = await create_user(gql, "eve@example.com")
    await create_page(gql, intruder, "Eve's page")
    before_owner, before_intruder = await me(gql, owner), await me(gql, intruder)
    # when
    result = await save_settings(gql, intruder, **SETTINGS_ATTACKS[field](ids[SETTINGS_TARGETS[field]]))
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == field
    assert await me(gql, intruder) == before_intruder
    assert await me(gql, owner) == before_owner


@pytest.mark.parametrize("mutation", sorted(ATTACKS))
async def test_malformed_ids_are_typed_errors(gql: GraphQLClient, mutation: str) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    for key in MALFORMED_IDS:
        # when
        result = await _attack(gql, mutation, key, token)
        # then
        assert result["__typename"] == "NotFoundError", (key[:40], result)


@pytest.mark.parametrize("field", sorted(SETTINGS_ATTACKS))
async def test_malformed_ids_in_settings_are_validation_errors(gql: GraphQLClient, field: str) -> None:
    # given
    _, token = await create_user(gql, "ada@example.com")
    before = await me(gql, token)
    for key in MALFORMED_IDS:
        # when
        result = await save_settings(gql, token, **SETTINGS_ATTACKS[field](key))
        # then
        assert result["__typename"] == "ValidationError" and result["field"] == field, (key[:40], result)
    assert await me(gql, token) == before


async def test_a_colleague_in_the_same_account_cannot_change_the_owners_rows(
    gql: GraphQLClient, http: httpx.AsyncClient, services: Services, world: World, dns: DnsServer
) -> None:
    # given: domains are shared by the account, everything else stays personal
    owner, ids = await _owner_with_everything(gql, http, dns)
    account_id = (await me(gql, owner))["accountId"]
    _, colleague = await create_user(gql, "bob@example.com", accountId=account_id)
    before = await me(gql, owner)
    # when
    results: dict[str, Any] = {}
    for mutation, target in ATTACK_TARGETS.items():
        if target != "domain":
            results[mutation] = await _attack(gql, mutation, ids[target], colleague)
    seen = await me(gql, colleague)
    # then
    assert {r["__typename"] for r in results.values()} == {"NotFoundError"}
    assert await me(gql, owner) == before
    assert seen["calendarConnections"] == [] and seen["schedulingPages"] == [] and seen["meetings"] == []
    assert [d["id"] for d in seen["domains"]] == [ids["domain"]]
