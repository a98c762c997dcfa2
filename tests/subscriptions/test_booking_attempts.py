from __future__ import annotations

from datetime import timedelta

import pytest
from websockets.exceptions import ConnectionClosed

from meetgraph.settings import Settings
from tests.subscriptions.conftest import authorized, ws_client
from tests.utils.attempts import ATTEMPTS, SLOT, summary
from tests.utils.calendars import calendar_named
from tests.utils.clock import FakeClock
from tests.utils.connection import calendar_ids, connect
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.live import Live, LiveDatabases, serve
from tests.utils.meeting import book
from tests.utils.page import create_page
from tests.utils.settings import DISABLE_PAGES, save_settings_ok
from tests.utils.user import create_user


@pytest.mark.parametrize(
    "payload",
    [
        {"authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer not-a-token"},
        {"authorization": "Basic abc"},
        {"authorization": "Bearer "},
        {"authorization": 42},
    ],
)
async def test_connection_with_a_wrong_token_is_refused(live: Live, payload: dict[str, object]) -> None:
    # given
    await create_user(live.gql, "ada@example.com")
    # when
    async with ws_client(live) as client:
        await client.send({"type": "connection_init", "payload": payload})
        with pytest.raises(ConnectionClosed) as closed:
            await client.receive()
    # then
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_every_outcome_reaches_the_owner_in_order_and_no_one_else(live: Live, world: World) -> None:
    # given
    ada_id, ada = await create_user(live.gql, "ada@example.com")
    bob_id, bob = await create_user(live.gql, "bob@example.com")
    await create_page(live.gql, ada, slug="ada", timezone="Europe/Berlin")
    await create_page(live.gql, bob, slug="bob", timezone="Europe/Berlin")
    async with authorized(live, ada) as ada_ws, authorized(live, bob) as bob_ws:
        await ada_ws.subscribe("a", ATTEMPTS)
        await bob_ws.subscribe("b", ATTEMPTS)
        await live.listening.wait(ada_id)
        await live.listening.wait(bob_id)
        # when
        requested = await book(live.gql, "ada", SLOT)  # offline: no calendar yet
        await connect(live.gql, live.http, ada, "GOOGLE")
        ids = await calendar_ids(live.gql, ada)
        await save_settings_ok(live.gql, ada, availabilityCalendarIds=[ids["Colleague (full details)"]])
        booked = await book(live.gql, "ada", SLOT + timedelta(hours=1))
        taken = await book(live.gql, "ada", SLOT + timedelta(hours=1), email="dora@example.com")
        world.google.lose_access(GOOGLE_USER, calendar_named(world.google, "Colleague (full details)"))
        blocked = await book(live.gql, "ada", SLOT + timedelta(hours=2))
        await live.gql(DISABLE_PAGES, token=ada)
        disabled = await book(live.gql, "ada", SLOT + timedelta(hours=3))
        bobs = await book(live.gql, "bob", SLOT, email="erin@example.com")
        # then
        assert [r["__typename"] for r in (requested, booked, taken, blocked, disabled, bobs)] == [
            "BookMeetingSuccess",
            "BookMeetingSuccess",
            "SlotUnavailableError",
            "CalendarAccessLostError",
            "PagesDisabledError",
            "BookMeetingSuccess",
        ]
        received = [summary(await ada_ws.next_data("a")) for _ in range(5)]
        assert received == [
            ("REQUESTED", "ada", "carla@example.com", SLOT),
            ("BOOKED", "ada", "carla@example.com", SLOT + timedelta(hours=1)),
            ("SLOT_UNAVAILABLE", "ada", "dora@example.com", SLOT + timedelta(hours=1)),
            ("BLOCKED_CALENDAR_ACCESS", "ada", "carla@example.com", SLOT + timedelta(hours=2)),
            ("PAGES_DISABLED", "ada", "carla@example.com", SLOT + timedelta(hours=3)),
        ]
        # bob's first event is his own booking: none of ada's attempts came before it
        assert summary(await bob_ws.next_data("b")) == ("REQUESTED", "bob", "erin@example.com", SLOT)


async def test_more_subscriptions_than_allowed_on_one_connection_are_refused(live: Live) -> None:
    # given
    ada_id, ada = await create_user(live.gql, "ada@example.com")
    await create_page(live.gql, ada, slug="ada", timezone="Europe/Berlin")
    async with authorized(live, ada) as client:
        for n in range(5):
            await client.subscribe(f"s{n}", ATTEMPTS)
        await live.listening.wait(ada_id, 5)
        # when
        await client.subscribe("s5", ATTEMPTS)
        refused = await client.receive()
        # then
        assert refused["type"] == "error" and refused["id"] == "s5"
        await book(live.gql, "ada", SLOT)
        delivered = {(await client.receive())["id"] for _ in range(5)}
        assert delivered == {f"s{n}" for n in range(5)}


async def test_attempts_cross_servers_through_redis(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, redis_url: str
) -> None:
    # given: two app instances sharing the database and a Redis broadcast
    shared = settings.model_copy(update={"broadcast_url": redis_url})
    async with serve(shared, databases, clock) as first, serve(shared, databases, clock) as second:
        ada_id, ada = await create_user(first.gql, "ada@example.com")
        await create_page(first.gql, ada, slug="ada", timezone="Europe/Berlin")
        async with authorized(second, ada) as client:
            await client.subscribe("a", ATTEMPTS)
            await second.listening.wait(ada_id)
            # when
            result = await book(first.gql, "ada", SLOT)
            # then
            assert result["__typename"] == "BookMeetingSuccess"
            assert summary(await client.next_data("a")) == ("REQUESTED", "ada", "carla@example.com", SLOT)
