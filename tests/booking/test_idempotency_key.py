"""bookMeeting(input: {idempotencyKey}): a visitor's retry answers the first result and books nothing more."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import func, select

from db.models import BookingAttempt, BookingKey, Meeting
from meetgraph.services import Services
from tests.utils.calendars import live_events, primary_id
from tests.utils.clock import FakeClock
from tests.utils.connection import connect
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.meeting import book, my_meetings
from tests.utils.page import create_page
from tests.utils.user import create_user

SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)


async def google_page(gql: GraphQLClient, http: httpx.AsyncClient, world: World) -> str:
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "GOOGLE")
    await create_page(gql, token, name="Intro", slug="intro", timezone="Europe/Berlin")
    return token


async def count(services: Services, model: type) -> int:
    async with services.sessionmaker() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


def google_events(world: World) -> int:
    return len(live_events(world.google, primary_id(world.google, GOOGLE_USER)))


async def test_the_same_key_answers_the_first_booking_and_books_nothing_more(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    token = await google_page(gql, http, world)
    first = await book(gql, "intro", SLOT, key="visitor-42-try")
    # when: the visitor's answer was lost and the form is sent again
    again = await book(gql, "intro", SLOT, key="visitor-42-try")
    # then
    assert first["__typename"] == "BookMeetingSuccess"
    assert again == first
    assert len(await my_meetings(gql, token)) == 1 and google_events(world) == 1
    assert await count(services, BookingAttempt) == 1


async def test_a_refusal_is_answered_again_with_its_typed_error(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given: the slot is taken by someone else
    await google_page(gql, http, world)
    assert (await book(gql, "intro", SLOT, email="dora@example.com"))["__typename"] == "BookMeetingSuccess"
    first = await book(gql, "intro", SLOT, key="k-refused")
    assert first["__typename"] == "SlotUnavailableError"
    # when: the slot is free again (cancelled) and the same key comes back
    async with services.sessionmaker() as session:
        (meeting,) = (await session.exec(select(Meeting))).all()
        await session.delete(meeting)
        await session.commit()
    again = await book(gql, "intro", SLOT, key="k-refused")
    # then: the first answer, not a booking
    assert again == first
    assert await count(services, Meeting) == 0


async def test_the_same_key_for_another_booking_is_a_validation_error_that_reveals_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    await google_page(gql, http, world)
    await book(gql, "intro", SLOT, key="shared-key")
    # when: someone else (another contact, another time) sends the same key
    other = await book(gql, "intro", SLOT + timedelta(hours=1), email="eve@example.com", key="shared-key")
    # then
    assert other["__typename"] == "ValidationError" and other["field"] == "idempotencyKey"
    assert "carla" not in other["message"]
    assert await count(services, Meeting) == 1


async def test_a_key_is_remembered_for_24_hours(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, clock: FakeClock
) -> None:
    # given: a booking, then the owner cancels it outside meetgraph's view (the row is gone)
    await google_page(gql, http, world)
    first = await book(gql, "intro", SLOT, key="day-old")
    clock.advance(hours=23, minutes=59)
    assert await book(gql, "intro", SLOT, key="day-old") == first
    # when: the key comes back after 24 hours, for a later slot
    clock.advance(minutes=2)
    later = await book(gql, "intro", SLOT + timedelta(days=1), key="day-old")
    # then: it is a new request
    assert later["__typename"] == "BookMeetingSuccess" and later["meeting"]["id"] != first["meeting"]["id"]
    assert await count(services, BookingKey) == 1


async def test_concurrent_requests_with_one_key_book_once(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services
) -> None:
    # given
    token = await google_page(gql, http, world)
    # when: a double click, five times over
    results = await asyncio.gather(*(book(gql, "intro", SLOT, key="double-click") for _ in range(5)))
    # then: everyone gets the one booking
    ids = {r["meeting"]["id"] for r in results if r["__typename"] == "BookMeetingSuccess"}
    assert [r["__typename"] for r in results] == ["BookMeetingSuccess"] * 5 and len(ids) == 1
    assert len(await my_meetings(gql, token)) == 1 and google_events(world) == 1


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
async def test_an_empty_or_overlong_key_is_refused_before_anything_is_written(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, key: str
) -> None:
    # given
    await google_page(gql, http, world)
    # when
    result = await book(gql, "intro", SLOT, key=key)
    # then
    assert result["__typename"] == "ValidationError" and result["field"] == "idempotencyKey"
    assert await count(services, Meeting) == 0 and await count(services, BookingAttempt) == 0
