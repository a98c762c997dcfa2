"""A personal Microsoft account (outlook.com, hotmail.com): getSchedule is refused for it, its page still offers
exactly the free times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.utils.calendars import primary_id
from tests.utils.connection import connect
from tests.utils.emulators import MICROSOFT_USER, World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.page import AVAILABLE_SLOTS, create_page
from tests.utils.user import create_user

# FakeClock starts Tuesday 2026-12-01 08:00 UTC; the page's hours are 09:00-17:00 in Berlin (08:00-16:00 UTC).
WEDNESDAY = datetime(2026, 12, 2, tzinfo=UTC)


def utc(hour: int, minute: int = 0) -> datetime:
    return WEDNESDAY.replace(hour=hour, minute=minute)


async def test_a_personal_accounts_page_offers_the_free_times(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World
) -> None:
    # given
    account = world.microsoft.account(MICROSOFT_USER)
    assert account is not None
    account.personal = True
    _, token = await create_user(gql, "ada@example.com")
    await connect(gql, http, token, "OFFICE365")
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    primary = primary_id(world.microsoft, MICROSOFT_USER)
    world.microsoft.add_event(primary, utc(9), utc(10), show_as="busy")
    world.microsoft.add_event(primary, utc(11), utc(12), show_as="workingElsewhere")
    world.microsoft.add_event(primary, utc(13), utc(14), show_as="oof")
    # when
    data = await gql(
        AVAILABLE_SLOTS,
        {"slug": "intro", "start": WEDNESDAY.isoformat(), "end": (WEDNESDAY + timedelta(1)).isoformat()},
    )
    # then
    starts = [parse(slot["start"]) for slot in data["schedulingPage"]["availableSlots"]]
    blocked = {utc(9), utc(9, 30), utc(13), utc(13, 30)}
    every_half_hour = [utc(8) + timedelta(minutes=30 * n) for n in range(16)]
    assert starts == [start for start in every_half_hour if start not in blocked]
