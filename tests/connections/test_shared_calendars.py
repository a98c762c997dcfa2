"""Calendars of other mailboxes added by address (addSharedCalendar), against the Exchange emulator: listed,
chosen as availability calendars, their busy time checked, and lost and regained like any other calendar."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from db.models import CalendarConnection, ConnectionStatus
from emulators.state import AccessRole
from meetgraph.services import Services
from tests.booking.conftest import mailbox  # noqa: F401 (the fixture, shared with the booking tests)
from tests.utils.calendars import live_events, primary_id
from tests.utils.connection import connect
from tests.utils.db import counts
from tests.utils.emulators import EXCHANGE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.mail import Mailbox
from tests.utils.meeting import book, my_meetings
from tests.utils.page import AVAILABLE_SLOTS, page_owner
from tests.utils.settings import REMOVE_INACTIVE_CALENDAR, save_settings_ok
from tests.utils.user import create_user

OWNER = "ada@example.com"
BOB = "bob@exchange.test"
SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)
BOB_BUSY = (SLOT, SLOT + timedelta(hours=1))

ADD_SHARED = """
mutation($connectionId: ID!, $address: String!) { addSharedCalendar(connectionId: $connectionId, address: $address) {
  __typename
  ... on AddSharedCalendarSuccess { calendar { id name isPrimary status isAvailabilityCalendar
      selectableForAvailability } }
  ... on Error { message } ... on ValidationError { field } } }
"""

REMOVE_SHARED = """
mutation($id: ID!) { removeSharedCalendar(calendarId: $id) {
  __typename ... on DisconnectSuccess { id } ... on Error { message } ... on ValidationError { field } } }
"""

CONNECTIONS = "{ me { calendarConnections { id provider calendars { id name isPrimary status } } } }"

SETTINGS = """{ me { calendarSettings {
  availabilityCalendars { id status } inactiveCalendars { id status } } } }"""


def share_bob(world: World, role: AccessRole = AccessRole.READER) -> str:
    """bob@exchange.test, with one busy hour at SLOT, shares his Calendar with the connected Exchange account."""
    bob = world.exchange.add_account(BOB, "Bob")
    world.exchange.add_event(bob.primary_calendar_id, *BOB_BUSY, "Bob's review")
    world.exchange.add_share(EXCHANGE_USER, bob.primary_calendar_id, role)
    return bob.primary_calendar_id


def revoke_bob(world: World) -> str:
    """Bob stops sharing his Calendar with the connected Exchange account; returns its folder id."""
    bob_calendar = world.exchange.account(BOB).primary_calendar_id  # type: ignore[union-attr]
    world.exchange.lose_access(EXCHANGE_USER, bob_calendar)
    return bob_calendar


async def only_connection(gql: GraphQLClient, token: str) -> str:
    (connection,) = (await gql(CONNECTIONS, token=token))["me"]["calendarConnections"]
    connection_id: str = connection["id"]
    return connection_id


async def exchange_user(gql: GraphQLClient, http: httpx.AsyncClient) -> tuple[str, str]:
    """A user with the world's Exchange account connected: (token, connection id)."""
    _, token = await create_user(gql, OWNER)
    await connect(gql, http, token, "EXCHANGE")
    return token, await only_connection(gql, token)


async def add_shared(gql: GraphQLClient, token: str, connection_id: str, address: str = BOB) -> dict[str, Any]:
    data = await gql(ADD_SHARED, {"connectionId": connection_id, "address": address}, token)
    result: dict[str, Any] = data["addSharedCalendar"]
    return result


async def slot_starts(gql: GraphQLClient, slug: str) -> list[str]:
    window = {"slug": slug, "start": SLOT.isoformat(), "end": (SLOT + timedelta(hours=2)).isoformat()}
    return [s["start"] for s in (await gql(AVAILABLE_SLOTS, window))["schedulingPage"]["availableSlots"]]


async def owner_with_bob_available(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> tuple[str, str, str]:
    """An Exchange page owner who added bob's shared calendar as an availability calendar: (token, slug, its id)."""
    share_bob(world)
    owner = await page_owner(gql, http, OWNER, provider="EXCHANGE")
    added = await add_shared(gql, owner.token, await only_connection(gql, owner.token))
    assert added["__typename"] == "AddSharedCalendarSuccess", added
    calendar_id: str = added["calendar"]["id"]
    await save_settings_ok(gql, owner.token, availabilityCalendarIds=[calendar_id])
    return owner.token, owner.slug, calendar_id


async def test_shared_calendar_is_added_listed_and_selectable(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    share_bob(world)
    token, connection_id = await exchange_user(gql, http)
    # when
    result = await add_shared(gql, token, connection_id, " Bob@Exchange.test ")
    # then
    assert result["__typename"] == "AddSharedCalendarSuccess", result
    calendar = result["calendar"]
    assert calendar["name"] == f"Calendar ({BOB})"
    assert (calendar["isPrimary"], calendar["status"], calendar["isAvailabilityCalendar"]) == (False, "ACTIVE", False)
    assert calendar["selectableForAvailability"] is True
    (connection,) = (await gql(CONNECTIONS, token=token))["me"]["calendarConnections"]
    assert calendar["id"] in [c["id"] for c in connection["calendars"]]


async def test_bobs_busy_time_removes_slots_from_the_page_once_chosen(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    share_bob(world)
    owner = await page_owner(gql, http, OWNER, provider="EXCHANGE")
    added = await add_shared(gql, owner.token, await only_connection(gql, owner.token))
    before = await slot_starts(gql, owner.slug)
    # when
    await save_settings_ok(gql, owner.token, availabilityCalendarIds=[added["calendar"]["id"]])
    after = await slot_starts(gql, owner.slug)
    # then
    busy = {SLOT.isoformat(), (SLOT + timedelta(minutes=30)).isoformat()}
    assert busy <= {datetime.fromisoformat(s).isoformat() for s in before}
    assert not busy & {datetime.fromisoformat(s).isoformat() for s in after}
    assert after and set(after) < set(before)


async def test_revoked_share_blocks_the_page_mails_the_owner_and_turns_the_calendar_inactive(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    mailbox: Mailbox,  # noqa: F811
) -> None:
    # given
    token, slug, calendar_id = await owner_with_bob_available(gql, http, world)
    revoke_bob(world)
    # when
    result = await book(gql, slug, SLOT + timedelta(hours=2))
    await services.drain()
    # then
    assert result["__typename"] == "CalendarAccessLostError", result
    assert await my_meetings(gql, token) == []
    assert live_events(world.exchange, primary_id(world.exchange, EXCHANGE_USER)) == []
    settings = (await gql(SETTINGS, token=token))["me"]["calendarSettings"]
    assert settings["inactiveCalendars"] == [{"id": calendar_id, "status": "INACTIVE"}]
    assert len(mailbox.to(OWNER)) == 1
    assert await slot_starts(gql, slug) == []


async def test_restored_share_makes_the_calendar_active_and_the_page_bookable(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    mailbox: Mailbox,  # noqa: F811
) -> None:
    # given
    token, slug, calendar_id = await owner_with_bob_available(gql, http, world)
    bob_calendar = revoke_bob(world)
    assert (await book(gql, slug, SLOT + timedelta(hours=2)))["__typename"] == "CalendarAccessLostError"
    # when
    world.exchange.restore_access(EXCHANGE_USER, bob_calendar)
    result = await book(gql, slug, SLOT + timedelta(hours=2))
    # then
    assert result["__typename"] == "BookMeetingSuccess", result
    settings = (await gql(SETTINGS, token=token))["me"]["calendarSettings"]
    assert settings == {"availabilityCalendars": [{"id": calendar_id, "status": "ACTIVE"}], "inactiveCalendars": []}
    assert (await book(gql, slug, SLOT))["__typename"] == "SlotUnavailableError"  # bob's busy hour, read again


async def test_an_inactive_shared_calendar_removed_lets_the_page_take_bookings_again(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    mailbox: Mailbox,  # noqa: F811
) -> None:
    # given
    token, slug, calendar_id = await owner_with_bob_available(gql, http, world)
    revoke_bob(world)
    assert (await book(gql, slug, SLOT))["__typename"] == "CalendarAccessLostError"
    # when
    removed = (await gql(REMOVE_INACTIVE_CALENDAR, {"id": calendar_id}, token))["removeInactiveCalendar"]
    result = await book(gql, slug, SLOT)
    # then
    assert removed["__typename"] == "CalendarSettingsSuccess", removed
    assert result["__typename"] == "BookMeetingSuccess", result
    assert (await gql(SETTINGS, token=token))["me"]["calendarSettings"] == {
        "availabilityCalendars": [],
        "inactiveCalendars": [],
    }


@pytest.mark.parametrize(
    ("address", "role", "expected", "field"),
    [
        ("bob-at-exchange.test", AccessRole.READER, "ValidationError", "address"),
        (EXCHANGE_USER.upper(), AccessRole.READER, "ValidationError", "address"),
        ("nobody@exchange.test", AccessRole.READER, "CalendarNotSharedError", None),
        (BOB, AccessRole.FREE_BUSY, "CalendarNotSharedError", None),
        (BOB, None, "CalendarNotSharedError", None),
    ],
    ids=["malformed", "own-address", "no-such-mailbox", "free-busy-only", "not-shared"],
)
async def test_a_calendar_that_cannot_be_added_is_a_typed_error_and_adds_nothing(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    address: str,
    role: AccessRole | None,
    expected: str,
    field: str | None,
) -> None:
    # given
    bob = world.exchange.add_account(BOB, "Bob")
    if role is not None:
        world.exchange.add_share(EXCHANGE_USER, bob.primary_calendar_id, role)
    token, connection_id = await exchange_user(gql, http)
    before = await counts(services)
    # when
    result = await add_shared(gql, token, connection_id, address)
    # then
    assert result["__typename"] == expected, result
    assert result.get("field") == field
    assert "Error" not in result["message"] and "Exception" not in result["message"]
    assert await counts(services) == before


async def test_the_same_calendar_twice_is_a_validation_error(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    share_bob(world)
    token, connection_id = await exchange_user(gql, http)
    assert (await add_shared(gql, token, connection_id))["__typename"] == "AddSharedCalendarSuccess"
    before = await counts(services)
    # when
    again = await add_shared(gql, token, connection_id, BOB.upper())
    # then
    assert (again["__typename"], again["field"]) == ("ValidationError", "address")
    assert await counts(services) == before


async def test_another_users_connection_is_not_found(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    share_bob(world)
    token, connection_id = await exchange_user(gql, http)
    _, other = await create_user(gql, "eve@example.com")
    before = await counts(services)
    # when
    result = await add_shared(gql, other, connection_id)
    # then
    assert result["__typename"] == "NotFoundError"
    assert await counts(services) == before


async def test_an_inactive_connection_tries_no_login_and_adds_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    share_bob(world)
    token, connection_id = await exchange_user(gql, http)
    async with services.sessionmaker() as session:
        connection = await session.get(CalendarConnection, uuid.UUID(connection_id))
        assert connection is not None
        connection.status = ConnectionStatus.INACTIVE  # its login was refused: the password must be re-entered
        session.add(connection)
        await session.commit()
    traffic = world.exchange_app.state.traffic.operations
    asked = len(traffic)
    before = await counts(services)
    # when
    result = await add_shared(gql, token, connection_id)
    # then
    assert result["__typename"] == "ProviderError"
    assert "reconnect" in result["message"]
    assert len(traffic) == asked
    assert await counts(services) == before


async def test_google_cannot_add_calendars_by_address(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    _, token = await create_user(gql, OWNER)
    await connect(gql, http, token, "GOOGLE")
    before = await counts(services)
    # when
    result = await add_shared(gql, token, await only_connection(gql, token), "colleague@example.com")
    # then
    assert result["__typename"] == "UnsupportedOperationError"
    assert await counts(services) == before


async def test_remove_shared_calendar_removes_it_but_never_an_owned_one(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token, slug, calendar_id = await owner_with_bob_available(gql, http, world)
    (connection,) = (await gql(CONNECTIONS, token=token))["me"]["calendarConnections"]
    primary = next(c["id"] for c in connection["calendars"] if c["isPrimary"])
    # when
    removed = (await gql(REMOVE_SHARED, {"id": calendar_id}, token))["removeSharedCalendar"]
    refused = (await gql(REMOVE_SHARED, {"id": primary}, token))["removeSharedCalendar"]
    # then
    assert removed == {"__typename": "DisconnectSuccess", "id": calendar_id}
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "calendarId")
    (connection,) = (await gql(CONNECTIONS, token=token))["me"]["calendarConnections"]
    assert calendar_id not in [c["id"] for c in connection["calendars"]] and primary in [
        c["id"] for c in connection["calendars"]
    ]
    assert SLOT.isoformat() in {datetime.fromisoformat(s).isoformat() for s in await slot_starts(gql, slug)}
