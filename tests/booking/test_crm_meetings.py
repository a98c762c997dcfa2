from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.utils.calendars import ACCOUNTS, live_events, primary_id, state_of
from tests.utils.connection import connect
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.meeting import CANCEL_MEETING, CREATE_CRM_MEETING, book, my_meetings
from tests.utils.page import create_page
from tests.utils.settings import save_settings_ok
from tests.utils.user import create_user

START = datetime(2026, 12, 3, 14, tzinfo=UTC)
CONTACT = "paul@customer.example"


async def crm_meeting(gql: GraphQLClient, token: str, **extra: Any) -> dict[str, Any]:
    data = await gql(
        CREATE_CRM_MEETING,
        {
            "input": {
                "contactEmail": CONTACT,
                "title": "Renewal",
                "start": START.isoformat(),
                "end": (START + timedelta(hours=1)).isoformat(),
                **extra,
            }
        },
        token,
    )
    result: dict[str, Any] = data["createCrmMeeting"]
    return result


async def owner(gql: GraphQLClient, http: httpx.AsyncClient, provider: str | None) -> str:
    _, token = await create_user(gql, "ada@example.com")
    if provider is not None:
        await connect(gql, http, token, provider)
    return token


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_with_calendar_sync_the_contact_is_invited(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given
    token = await owner(gql, http, provider)
    state = state_of(world, provider)
    # when
    result = await crm_meeting(gql, token)
    # then
    assert result["__typename"] == "MeetingSuccess"
    assert result["meeting"]["syncState"] == "SYNCED" and result["meeting"]["status"] == "BOOKED"
    (event,) = live_events(state, primary_id(state, ACCOUNTS[provider]))
    assert event.attendees == [CONTACT] and event.invitations_sent
    assert (event.start, event.end) == (START, START + timedelta(hours=1))


async def test_without_calendar_sync_only_a_record_is_logged(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http, "GOOGLE")
    await save_settings_ok(gql, token, calendarSync=False)
    # when
    result = await crm_meeting(gql, token)
    # then
    assert result["__typename"] == "MeetingSuccess"
    assert result["meeting"]["syncState"] == "NOT_SYNCED"
    assert await my_meetings(gql, token) == [result["meeting"]]
    assert live_events(world.google, primary_id(world.google, ACCOUNTS["GOOGLE"])) == []


async def test_meetings_from_integrations_are_never_synced(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http, "GOOGLE")
    # when
    result = await crm_meeting(gql, token, fromIntegration=True)
    # then
    assert result["__typename"] == "MeetingSuccess"
    assert result["meeting"]["syncState"] == "NOT_SYNCED"
    assert live_events(world.google, primary_id(world.google, ACCOUNTS["GOOGLE"])) == []


@pytest.mark.parametrize("provider", ["EXCHANGE", None])
async def test_exchange_or_no_calendar_gets_no_event(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str | None
) -> None:
    # given
    token = await owner(gql, http, provider)
    # when
    result = await crm_meeting(gql, token)
    # then
    assert result["__typename"] == "MeetingSuccess"
    assert result["meeting"]["syncState"] == "NOT_SYNCED"
    assert live_events(world.exchange, primary_id(world.exchange, ACCOUNTS["EXCHANGE"])) == []


async def test_invalid_span_is_refused_and_nothing_is_logged(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http, "GOOGLE")
    # when
    result = await crm_meeting(gql, token, end=(START - timedelta(minutes=1)).isoformat())
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "end"
    assert await my_meetings(gql, token) == []
    assert live_events(world.google, primary_id(world.google, ACCOUNTS["GOOGLE"])) == []


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365"])
async def test_cancel_removes_the_event(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, provider: str
) -> None:
    # given
    token = await owner(gql, http, provider)
    state = state_of(world, provider)
    meeting = (await crm_meeting(gql, token))["meeting"]
    # when
    data = await gql(CANCEL_MEETING, {"id": meeting["id"]}, token)
    # then
    result = data["cancelMeeting"]
    assert result["__typename"] == "MeetingSuccess" and result["meeting"]["status"] == "CANCELLED"
    assert live_events(state, primary_id(state, ACCOUNTS[provider])) == []
    assert [m["status"] for m in await my_meetings(gql, token)] == ["CANCELLED"]


async def test_a_cancelled_slot_can_be_booked_again(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    token = await owner(gql, http, "GOOGLE")
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    slot = datetime(2026, 12, 2, 9, tzinfo=UTC)
    first = (await book(gql, "intro", slot))["meeting"]
    await gql(CANCEL_MEETING, {"id": first["id"]}, token)
    # when
    again = await book(gql, "intro", slot, email="dora@example.com")
    # then
    assert again["__typename"] == "BookMeetingSuccess"
    assert len(live_events(world.google, primary_id(world.google, ACCOUNTS["GOOGLE"]))) == 1


async def test_meetings_in_an_exchange_calendar_cannot_be_cancelled(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    token = await owner(gql, http, "EXCHANGE")
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    booked = await book(gql, "intro", datetime(2026, 12, 2, 9, tzinfo=UTC))
    assert booked["__typename"] == "BookMeetingSuccess" and booked["meeting"]["syncState"] == "SYNCED"
    # when
    data = await gql(CANCEL_MEETING, {"id": booked["meeting"]["id"]}, token)
    # then
    assert data["cancelMeeting"]["__typename"] == "UnsupportedOperationError"
    assert await my_meetings(gql, token) == [booked["meeting"]]
    assert len(live_events(world.exchange, primary_id(world.exchange, ACCOUNTS["EXCHANGE"]))) == 1


async def test_another_users_meeting_is_not_found(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> None:
    # given
    token = await owner(gql, http, "GOOGLE")
    meeting = (await crm_meeting(gql, token))["meeting"]
    _, intruder = await create_user(gql, "eve@example.com")
    # when
    data = await gql(CANCEL_MEETING, {"id": meeting["id"]}, intruder)
    # then
    assert data["cancelMeeting"]["__typename"] == "NotFoundError"
    assert [m["status"] for m in await my_meetings(gql, token)] == ["BOOKED"]
    assert len(live_events(world.google, primary_id(world.google, ACCOUNTS["GOOGLE"]))) == 1
