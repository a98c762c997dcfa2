"""availableSlotsChanged over a real WebSocket (graphql-transport-ws): the current slots at once, then each
different list after a change, computed once per change for every subscriber of a page and window."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meetgraph.availability_events import Answer, SlotFeeds, channel_for
from meetgraph.broadcast import MemoryBroadcast
from meetgraph.services import Events
from meetgraph.settings import Settings
from scheduling.slots import Slot
from tests.subscriptions.conftest import GraphQLWebSocket, authorized
from tests.subscriptions.test_redis_outage import readiness_becomes
from tests.utils.calendars import primary_id
from tests.utils.clock import FakeClock
from tests.utils.connection import DISCONNECT_CALENDAR, MY_CALENDARS, connect
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import iso, parse
from tests.utils.live import SAFETY_TIMEOUT, Live, LiveDatabases, serve
from tests.utils.meeting import CANCEL_MEETING, book
from tests.utils.page import AVAILABLE_SLOTS, UPDATE_PAGE, create_page
from tests.utils.redis_server import RedisServer
from tests.utils.settings import DISABLE_PAGES, ENABLE_PAGES
from tests.utils.user import create_user

SLOTS_CHANGED = """
subscription($slug: String!, $domain: String, $start: DateTime!, $end: DateTime!) {
  availableSlotsChanged(slug: $slug, domain: $domain, start: $start, end: $end) { start end } }
"""

# FakeClock: Tuesday 2026-12-01 08:00 UTC. The page's hours are 09:00-17:00 in Berlin, 08:00-16:00 UTC.
WEDNESDAY = datetime(2026, 12, 2, tzinfo=UTC)
THURSDAY = WEDNESDAY + timedelta(days=1)
WINDOW = {"slug": "ada", "start": iso(WEDNESDAY), "end": iso(THURSDAY)}
WEDNESDAY_SLOTS = [WEDNESDAY + timedelta(hours=8, minutes=30 * i) for i in range(16)]


def starts(data: dict[str, Any]) -> list[datetime]:
    return [parse(slot["start"]) for slot in data["availableSlotsChanged"]]


def without(*taken: datetime) -> list[datetime]:
    return [start for start in WEDNESDAY_SLOTS if start not in taken]


async def ada_with_page(live: Live) -> tuple[str, str]:
    """Ada (no calendar: an offline page, booked meetings still block) with page `ada` in Berlin."""
    ada_id, ada = await create_user(live.gql, "ada@example.com")
    await create_page(live.gql, ada, slug="ada", timezone="Europe/Berlin")
    return ada_id, ada


async def subscribed(client: GraphQLWebSocket, operation_id: str, variables: dict[str, Any] = WINDOW) -> list[datetime]:
    """Subscribe; the first list it sends."""
    await client.subscribe(operation_id, SLOTS_CHANGED, variables)
    return starts(await client.next_data(operation_id))


async def booked(live: Live, start: datetime) -> dict[str, Any]:
    result = await book(live.gql, "ada", start)
    assert result["__typename"] == "BookMeetingSuccess", result
    meeting: dict[str, Any] = result["meeting"]
    return meeting


async def test_first_list_is_what_available_slots_answers(live: Live, world: World) -> None:
    # given: a page on a Google calendar with a busy hour (there before connecting: see the test below)
    primary = primary_id(world.google, GOOGLE_USER)
    world.google.add_event(primary, WEDNESDAY + timedelta(hours=10), WEDNESDAY + timedelta(hours=11))
    _, ada = await create_user(live.gql, "ada@example.com")
    await connect(live.gql, live.http, ada, "GOOGLE")
    await create_page(live.gql, ada, slug="ada", timezone="Europe/Berlin", bufferMinutes=15)
    query = await live.gql(AVAILABLE_SLOTS, WINDOW)
    async with authorized(live, ada) as client:
        # when
        await client.subscribe("s", SLOTS_CHANGED, WINDOW)
        first = await client.next_data("s")
    # then
    assert first["availableSlotsChanged"] == query["schedulingPage"]["availableSlots"]
    assert starts(first) == without(
        *(WEDNESDAY + timedelta(hours=h, minutes=m) for h, m in [(9, 30), (10, 0), (10, 30), (11, 0)])
    )


async def test_a_booking_removes_its_slot_and_a_cancellation_brings_it_back(live: Live) -> None:
    # given
    _, ada = await ada_with_page(live)
    async with authorized(live, ada) as client:
        assert await subscribed(client, "s") == WEDNESDAY_SLOTS
        # when
        meeting = await booked(live, WEDNESDAY_SLOTS[2])
        # then
        assert starts(await client.next_data("s")) == without(WEDNESDAY_SLOTS[2])
        # when: the owner cancels it
        cancelled = await live.gql(CANCEL_MEETING, {"id": meeting["id"]}, ada)
        assert cancelled["cancelMeeting"]["__typename"] == "MeetingSuccess"
        # then
        assert starts(await client.next_data("s")) == WEDNESDAY_SLOTS


async def test_a_change_outside_the_window_sends_nothing(live: Live) -> None:
    # given
    _, ada = await ada_with_page(live)
    async with authorized(live, ada) as client:
        assert await subscribed(client, "s") == WEDNESDAY_SLOTS
        # when: a booking on Thursday, outside the window: recomputed, unchanged
        await booked(live, THURSDAY + timedelta(hours=9))
        await live.listening.computations(2)
        # and then one inside it
        await booked(live, WEDNESDAY_SLOTS[0])
        # then: the next message is the second change's; the first sent nothing
        assert starts(await client.next_data("s")) == without(WEDNESDAY_SLOTS[0])
    assert live.listening.computed == 3


async def test_subscribers_of_one_page_and_window_share_one_computation_per_change(live: Live) -> None:
    # given: three subscribers on two connections, one of them twice on the same connection
    _, ada = await ada_with_page(live)
    async with authorized(live, ada) as first, authorized(live, ada) as second:
        assert await subscribed(first, "a") == WEDNESDAY_SLOTS
        assert await subscribed(first, "b") == WEDNESDAY_SLOTS
        assert await subscribed(second, "c") == WEDNESDAY_SLOTS
        assert live.listening.computed == 1
        # when: two changes
        await booked(live, WEDNESDAY_SLOTS[0])
        for client, operation_id in ((first, "a"), (first, "b"), (second, "c")):
            assert starts(await client.next_data(operation_id)) == without(WEDNESDAY_SLOTS[0]), operation_id
        await booked(live, WEDNESDAY_SLOTS[1])
        for client, operation_id in ((first, "a"), (first, "b"), (second, "c")):
            assert starts(await client.next_data(operation_id)) == without(*WEDNESDAY_SLOTS[:2]), operation_id
        # then
        assert live.listening.computed == 3
        # when: a subscriber of another window
        other = {**WINDOW, "end": iso(WEDNESDAY + timedelta(hours=12))}
        assert await subscribed(second, "d", other) == without(*WEDNESDAY_SLOTS[:2])[:6]
        # then: that window has a feed of its own
        assert live.listening.computed == 4


async def test_when_every_subscriber_left_the_next_one_starts_a_new_feed(live: Live) -> None:
    # given
    _, ada = await ada_with_page(live)
    async with authorized(live, ada) as client:
        assert await subscribed(client, "a") == WEDNESDAY_SLOTS
        await client.send({"id": "a", "type": "complete"})
        await live.listening.feeds_gone(1)
        # when: booked while nobody follows the page, then followed again
        await booked(live, WEDNESDAY_SLOTS[3])
        assert await subscribed(client, "b") == without(WEDNESDAY_SLOTS[3])
    # then: the first feed was gone (nothing computed for the booking), the second computed afresh
    assert live.listening.computed == 2


async def test_deactivated_pages_send_an_empty_list(live: Live) -> None:
    # given
    _, ada = await ada_with_page(live)
    async with authorized(live, ada) as client:
        assert await subscribed(client, "s") == WEDNESDAY_SLOTS
        # when
        await live.gql(DISABLE_PAGES, token=ada)
        # then
        assert starts(await client.next_data("s")) == []
        # when
        await live.gql(ENABLE_PAGES, token=ada)
        # then
        assert starts(await client.next_data("s")) == WEDNESDAY_SLOTS


async def test_new_weekly_hours_and_a_disconnected_calendar_send_the_new_slots(live: Live, world: World) -> None:
    # given: a page on a Google calendar busy 10:00-11:00 UTC (before connecting: the first sync, which the server
    # runs as soon as the calendar is connected, or a live read must see it), followed
    world.google.add_event(
        primary_id(world.google, GOOGLE_USER), WEDNESDAY + timedelta(hours=10), WEDNESDAY + timedelta(hours=11)
    )
    _, ada = await create_user(live.gql, "ada@example.com")
    await connect(live.gql, live.http, ada, "GOOGLE")
    page = await create_page(live.gql, ada, slug="ada", timezone="Europe/Berlin")
    busy = WEDNESDAY_SLOTS[4:6]
    async with authorized(live, ada) as client:
        assert await subscribed(client, "s") == without(*busy)
        # when: the page's hours end at 13:00 in Berlin
        hours = [{"weekday": 3, "start": "09:00", "end": "13:00"}]
        update = await live.gql(UPDATE_PAGE, {"id": page["id"], "input": {"name": "Intro", "weeklyHours": hours}}, ada)
        assert update["updateSchedulingPage"]["__typename"] == "SchedulingPageSuccess"
        # then
        assert starts(await client.next_data("s")) == without(*busy)[:6]
        # when: the calendar is disconnected (the page goes offline: the calendar's events no longer count)
        (connection,) = (await live.gql(MY_CALENDARS, token=ada))["me"]["calendarConnections"]
        await live.gql(DISCONNECT_CALENDAR, {"id": connection["id"]}, ada)
        # then
        assert starts(await client.next_data("s")) == WEDNESDAY_SLOTS[:8]


async def test_a_connection_found_revoked_sends_an_empty_list(live: Live, world: World) -> None:
    # given: a page on a Google calendar, followed
    _, ada = await create_user(live.gql, "ada@example.com")
    await connect(live.gql, live.http, ada, "GOOGLE")
    await create_page(live.gql, ada, slug="ada", timezone="Europe/Berlin")
    async with authorized(live, ada) as client:
        assert await subscribed(client, "s") == WEDNESDAY_SLOTS
        # when: the grant is revoked, and a visitor's booking finds out
        world.google.faults.revoked = True
        world.google.oauth.expire_access_tokens()
        refused = await book(live.gql, "ada", WEDNESDAY_SLOTS[0])
        assert refused["__typename"] == "CalendarAccessLostError", refused
        # then
        assert starts(await client.next_data("s")) == []


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({**WINDOW, "slug": "nobody"}, "slug"),
        ({**WINDOW, "domain": "unverified.example.com"}, "slug"),
        ({**WINDOW, "start": "2026-12-02T00:00:00"}, "start"),
        ({**WINDOW, "end": iso(WEDNESDAY - timedelta(hours=1))}, None),
        ({**WINDOW, "end": iso(WEDNESDAY + timedelta(days=63))}, None),
    ],
)
async def test_unknown_pages_and_bad_windows_are_refused_like_available_slots(
    live: Live, variables: dict[str, Any], argument: str | None
) -> None:
    # given
    _, ada = await ada_with_page(live)
    domain_query = AVAILABLE_SLOTS.replace("$slug: String!,", "$slug: String!, $domain: String,").replace(
        "schedulingPage(slug: $slug)", "schedulingPage(slug: $slug, domain: $domain)"
    )
    answer = await live.gql.raw(domain_query, variables)
    async with authorized(live, ada) as client:
        # when
        await client.subscribe("s", SLOTS_CHANGED, variables)
        refused = await client.receive()
        # then: one result with the error, and the operation is complete
        assert refused["type"] == "next" and refused["id"] == "s", refused
        assert refused["payload"]["data"] is None
        (error,) = refused["payload"]["errors"]
        assert await client.receive() == {"id": "s", "type": "complete"}
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"].get("argument") == argument
        # and the connection goes on
        assert await subscribed(client, "t") == WEDNESDAY_SLOTS
    if argument == "slug":
        assert answer["data"]["schedulingPage"] is None
    else:
        (query_error,) = answer["errors"]
        assert query_error["extensions"] == error["extensions"]
        assert query_error["message"] == error["message"]


async def test_it_counts_against_the_subscriptions_per_connection(live: Live) -> None:
    # given
    _, ada = await ada_with_page(live)
    async with authorized(live, ada) as client:
        for n in range(5):
            assert await subscribed(client, f"s{n}") == WEDNESDAY_SLOTS
        # when
        await client.subscribe("s5", SLOTS_CHANGED, WINDOW)
        refused = await client.receive()
        # then
        assert refused["type"] == "error" and refused["id"] == "s5", refused
        await booked(live, WEDNESDAY_SLOTS[0])
        updates = {}
        for _ in range(5):
            message = await client.receive()
            updates[message["id"]] = starts(message["payload"]["data"])
        assert updates == {f"s{n}": without(WEDNESDAY_SLOTS[0]) for n in range(5)}


async def test_changes_published_by_another_server_arrive_through_redis(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, redis_url: str
) -> None:
    # given: two app instances sharing the database and a Redis broadcast
    shared = settings.model_copy(update={"broadcast_url": redis_url})
    async with serve(shared, databases, clock) as first, serve(shared, databases, clock) as second:
        _, ada = await ada_with_page(first)
        async with authorized(second, ada) as client:
            assert await subscribed(client, "s") == WEDNESDAY_SLOTS
            # when
            await booked(first, WEDNESDAY_SLOTS[5])
            # then
            assert starts(await client.next_data("s")) == without(WEDNESDAY_SLOTS[5])
        assert first.listening.computed == 0 and second.listening.computed == 2


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
async def test_after_redis_restarts_the_missed_change_and_later_ones_arrive(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, own_redis: RedisServer, stop_signal: signal.Signals
) -> None:
    # given: a subscriber through our own Redis
    on_redis = settings.model_copy(update={"broadcast_url": own_redis.url})
    async with serve(on_redis, databases, clock) as live:
        _, ada = await ada_with_page(live)
        async with authorized(live, ada) as client:
            assert await subscribed(client, "s") == WEDNESDAY_SLOTS
            # when: Redis stops, and a booking's message is lost meanwhile
            own_redis.stop(stop_signal)
            await readiness_becomes(live, 503)
            await booked(live, WEDNESDAY_SLOTS[0])
            own_redis.start()
            # then: once the broadcast listens again the slots are computed anew
            assert starts(await client.next_data("s")) == without(WEDNESDAY_SLOTS[0])
            # and later changes arrive as before
            await booked(live, WEDNESDAY_SLOTS[1])
            assert starts(await client.next_data("s")) == without(*WEDNESDAY_SLOTS[:2])


async def test_a_subscription_begun_while_redis_is_down_answers_and_follows_once_it_is_back(
    settings: Settings, databases: LiveDatabases, clock: FakeClock, own_redis: RedisServer
) -> None:
    # given: Redis is down
    on_redis = settings.model_copy(update={"broadcast_url": own_redis.url})
    async with serve(on_redis, databases, clock) as live:
        _, ada = await ada_with_page(live)
        own_redis.stop(signal.SIGKILL)
        async with authorized(live, ada) as client:
            # when
            first = await subscribed(client, "s")
            # then: the current slots, without waiting for the broadcast
            assert first == WEDNESDAY_SLOTS
            # when: Redis is back (the feed computes once more as it starts listening), then a booking
            own_redis.start()
            await live.listening.computations(2)
            await booked(live, WEDNESDAY_SLOTS[0])
            # then: nothing was sent for the unchanged recomputation; the booking's list is
            assert starts(await client.next_data("s")) == without(WEDNESDAY_SLOTS[0])


# The feed itself, on the in-process broadcast: what the WebSocket tests cannot make happen at will.


class Counting(Events):
    def __init__(self) -> None:
        self.computed = 0
        self.changed = asyncio.Event()

    def slots_computed(self, key: object) -> None:
        self.computed += 1
        self.changed.set()

    async def computations(self, count: int) -> None:
        while self.computed < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), SAFETY_TIMEOUT)


@dataclass
class Wiring:
    broadcast: MemoryBroadcast = field(default_factory=MemoryBroadcast)
    events: Counting = field(default_factory=Counting)
    clock: FakeClock = field(default_factory=FakeClock)


OWNER = uuid.uuid4()
KEY = (uuid.uuid4(), WEDNESDAY, THURSDAY)


def slot(hour: int) -> Slot:
    start = WEDNESDAY + timedelta(hours=hour)
    return Slot(start, start + timedelta(minutes=30))


def answers(*results: Answer | Exception, before: Callable[[int], None] = lambda n: None) -> Callable[[], Any]:
    """A computation answering `results` in turn (raising those that are exceptions); `before(n)` runs first."""
    made = iter(results)
    calls = 0

    async def compute() -> Answer:
        nonlocal calls
        before(calls)
        calls += 1
        result = next(made)
        if isinstance(result, Exception):
            raise result
        return result

    return compute


async def next_list(stream: AsyncIterator[list[Slot]]) -> list[Slot]:
    return await asyncio.wait_for(anext(stream), SAFETY_TIMEOUT)


async def test_a_burst_of_messages_costs_one_computation() -> None:
    # given
    wiring, feeds = Wiring(), SlotFeeds()
    stream = feeds.follow(wiring, KEY, OWNER, answers(Answer([slot(8), slot(9)]), Answer([slot(9)])))
    assert await next_list(stream) == [slot(8), slot(9)]
    # when: five messages arrive together
    for _ in range(5):
        await wiring.broadcast.publish(channel_for(OWNER), "changed")
    # then
    assert await next_list(stream) == [slot(9)]
    assert wiring.events.computed == 2
    await stream.aclose()


async def test_slots_going_by_the_clock_are_dropped_without_a_message() -> None:
    # given: the first computation ends as the earliest slot's notice begins
    wiring, feeds = Wiring(), SlotFeeds()
    due = slot(8).start - timedelta(minutes=30)

    def computing_takes_time(n: int) -> None:
        if n == 0:
            wiring.clock.set(due)

    compute = answers(Answer([slot(8), slot(9)], due=due), Answer([slot(9)]), before=computing_takes_time)
    stream = feeds.follow(wiring, KEY, OWNER, compute)
    # when
    first, second = await next_list(stream), await next_list(stream)
    # then
    assert (first, second) == ([slot(8), slot(9)], [slot(9)])
    assert wiring.events.computed == 2
    await stream.aclose()


async def test_a_failed_first_computation_is_the_subscribers_error_and_a_later_one_keeps_the_list() -> None:
    # given
    wiring, feeds = Wiring(), SlotFeeds()
    failing = feeds.follow(wiring, KEY, OWNER, answers(RuntimeError("provider down"), Answer([slot(8)])))
    # when / then
    with pytest.raises(RuntimeError, match="provider down"):
        await next_list(failing)
    # given: a working feed whose second computation fails
    compute = answers(Answer([slot(8), slot(9)]), RuntimeError("provider down"), Answer([slot(9)]))
    stream = feeds.follow(wiring, KEY, OWNER, compute)
    assert await next_list(stream) == [slot(8), slot(9)]
    # when: a change that cannot be computed, then one that can
    await wiring.broadcast.publish(channel_for(OWNER), "changed")
    pending = asyncio.ensure_future(next_list(stream))
    await wiring.events.computations(3)  # the first feed's one, this one's first and the failed one
    assert not pending.done()
    await wiring.broadcast.publish(channel_for(OWNER), "changed")
    # then: nothing was sent for the failure; the next change's list is
    assert await pending == [slot(9)]
    await stream.aclose()


async def test_the_last_subscriber_leaving_ends_the_feed_and_its_broadcast_subscription() -> None:
    # given: two subscribers of one feed
    wiring, feeds = Wiring(), SlotFeeds()
    compute = answers(Answer([slot(8)]))
    first = feeds.follow(wiring, KEY, OWNER, compute)
    second = feeds.follow(wiring, KEY, OWNER, compute)
    assert await next_list(first) == await next_list(second) == [slot(8)]
    assert wiring.broadcast.channels == {channel_for(OWNER)} and len(feeds) == 1
    # when
    await first.aclose()
    # then
    assert wiring.broadcast.channels == {channel_for(OWNER)} and len(feeds) == 1
    # when
    await second.aclose()
    # then
    assert wiring.broadcast.channels == frozenset() and len(feeds) == 0
    assert wiring.events.computed == 1
