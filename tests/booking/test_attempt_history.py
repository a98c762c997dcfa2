"""me.bookingAttempts: the stored attempts, for clients catching up after a reconnect."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.utils.clock import FakeClock
from tests.utils.connection import connect
from tests.utils.emulators import World
from tests.utils.graphql import GraphQLClient
from tests.utils.meeting import book
from tests.utils.page import create_page
from tests.utils.settings import DISABLE_PAGES
from tests.utils.user import create_user

SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)
HISTORY = "query($last: Int!) { me { bookingAttempts(last: $last) { outcome pageSlug contactEmail start } } }"


async def test_attempts_are_listed_newest_first_for_their_owner_only(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    # given
    _, owner = await create_user(gql, "ada@example.com")
    _, other = await create_user(gql, "bob@example.com")
    await connect(gql, http, owner, "GOOGLE")
    await create_page(gql, owner, name="Intro", slug="intro", timezone="Europe/Berlin")
    assert (await book(gql, "intro", SLOT))["__typename"] == "BookMeetingSuccess"
    clock.advance(minutes=1)
    assert (await book(gql, "intro", SLOT, email="late@example.com"))["__typename"] == "SlotUnavailableError"
    clock.advance(minutes=1)
    await gql(DISABLE_PAGES, token=owner)
    assert (await book(gql, "intro", SLOT, email="third@example.com"))["__typename"] == "PagesDisabledError"
    # when
    mine = (await gql(HISTORY, {"last": 50}, owner))["me"]["bookingAttempts"]
    latest = (await gql(HISTORY, {"last": 1}, owner))["me"]["bookingAttempts"]
    theirs = (await gql(HISTORY, {"last": 50}, other))["me"]["bookingAttempts"]
    # then
    assert [a["outcome"] for a in mine] == ["PAGES_DISABLED", "SLOT_UNAVAILABLE", "BOOKED"]
    assert {a["pageSlug"] for a in mine} == {"intro"}
    assert [a["contactEmail"] for a in latest] == ["third@example.com"]
    assert theirs == []


async def test_an_out_of_range_limit_is_a_clear_error(gql: GraphQLClient) -> None:
    _, token = await create_user(gql, "ada@example.com")
    body = await gql.raw(HISTORY, {"last": 0}, token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
