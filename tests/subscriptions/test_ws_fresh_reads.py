"""Every operation over one graphql-transport-ws connection reads current data: nothing (dataloaders,
session, the caller's row) is kept from the moment the connection opened."""

from __future__ import annotations

from tests.subscriptions.conftest import authorized
from tests.utils.live import Live
from tests.utils.page import create_page
from tests.utils.settings import DISABLE_PAGES
from tests.utils.user import create_user

MY_PAGES = "{ me { calendarSettings { pagesActive } schedulingPages { slug active } } }"

RENAME_PAGE = """mutation($id: ID!) { updateSchedulingPage(id: $id, input: {name: "Renamed", slug: "renamed"}) {
  __typename } }"""


async def test_a_query_over_one_connection_sees_a_change_made_over_http(live: Live) -> None:
    # given
    _, token = await create_user(live.gql, "ada@example.com")
    await create_page(live.gql, token, slug="intro")
    async with authorized(live, token) as ws:
        first = await ws.execute("1", MY_PAGES)

        # when
        await live.gql(DISABLE_PAGES, token=token)
        second = await ws.execute("2", MY_PAGES)

    # then
    assert first == {
        "me": {"calendarSettings": {"pagesActive": True}, "schedulingPages": [{"slug": "intro", "active": True}]}
    }
    assert second == {
        "me": {"calendarSettings": {"pagesActive": False}, "schedulingPages": [{"slug": "intro", "active": False}]}
    }


async def test_a_mutation_over_the_connection_is_seen_by_the_next_query_over_http_and_the_connection(
    live: Live,
) -> None:
    # given
    _, token = await create_user(live.gql, "ada@example.com")
    page = await create_page(live.gql, token, slug="intro")
    async with authorized(live, token) as ws:
        await ws.execute("1", MY_PAGES)

        # when
        renamed = await ws.execute("2", RENAME_PAGE, {"id": page["id"]})
        over_ws = await ws.execute("3", MY_PAGES)
    over_http = await live.gql(MY_PAGES, token=token)

    # then
    assert renamed == {"updateSchedulingPage": {"__typename": "SchedulingPageSuccess"}}
    assert over_ws == over_http
    assert over_ws["me"]["schedulingPages"] == [{"slug": "renamed", "active": True}]
