from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from emulators.state import EmulatorState
from meetgraph.jobs import JobQueue
from meetgraph.services import Services
from providers.http import RetryPolicy
from resolvers.job_kinds import KINDS
from tests.utils.calendars import ACCOUNTS, live_events, primary_id, state_of
from tests.utils.clock import FakeClock
from tests.utils.connection import connect
from tests.utils.emulators import GOOGLE_USER, EmulatorServer, World
from tests.utils.graphql import GraphQLClient
from tests.utils.mail import Mailbox
from tests.utils.meeting import book, my_meetings
from tests.utils.outages import EventInsertOutage
from tests.utils.page import create_page
from tests.utils.user import create_user

SLOT = datetime(2026, 12, 2, 9, tzinfo=UTC)
OWNER = "ada@example.com"


class HeldRetries:
    """The injected sleep: every background retry waits until the test lets it go (no real waiting)."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await self.released.wait()


@pytest.fixture
def outage(emulator_server: tuple[EmulatorServer, str], world: World) -> Iterator[EventInsertOutage]:
    """Google answers 500 to every event insert until `outage.active = False`; free/busy keeps working."""
    server, _ = emulator_server
    wrapped = EventInsertOutage(world.google_app, world.google)
    server.google.app = wrapped
    yield wrapped
    server.install(world)


@pytest.fixture
def held(services: Services) -> HeldRetries:
    """One try per HTTP call, and background retries held until released."""
    sleep = HeldRetries()
    services.retry = RetryPolicy(attempts=1, total_seconds=30, sleep=sleep)
    return sleep


async def google_page(gql: GraphQLClient, http: httpx.AsyncClient) -> str:
    _, token = await create_user(gql, OWNER)
    await connect(gql, http, token, "GOOGLE")
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    return token


def primary_events(state: EmulatorState) -> int:
    return len(live_events(state, primary_id(state, GOOGLE_USER)))


async def test_booking_survives_a_failed_write_and_the_retry_writes_it_later(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    outage: EventInsertOutage,
    held: HeldRetries,
) -> None:
    # given
    token = await google_page(gql, http)
    # when
    result = await book(gql, "intro", SLOT)
    # then: booked, kept, not yet in the calendar
    assert result["__typename"] == "BookMeetingSuccess"
    assert result["meeting"]["status"] == "BOOKED" and result["meeting"]["syncState"] == "PENDING"
    (stored,) = await my_meetings(gql, token)
    assert stored["syncState"] == "PENDING" and primary_events(world.google) == 0
    assert outage.refused >= 1
    # when the provider recovers
    outage.active = False
    held.released.set()
    await services.drain()
    # then
    (stored,) = await my_meetings(gql, token)
    assert stored["id"] == result["meeting"]["id"] and stored["syncState"] == "SYNCED"
    assert primary_events(world.google) == 1


async def test_a_write_that_never_succeeds_is_kept_as_failed_and_the_owner_is_told(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    outage: EventInsertOutage,
    held: HeldRetries,
    mailbox: Mailbox,
) -> None:
    # given
    token = await google_page(gql, http)
    held.released.set()
    # when
    result = await book(gql, "intro", SLOT)
    await services.drain()
    # then
    assert result["__typename"] == "BookMeetingSuccess"
    (stored,) = await my_meetings(gql, token)
    assert stored["status"] == "BOOKED" and stored["syncState"] == "FAILED"
    assert primary_events(world.google) == 0
    assert outage.refused == 5
    assert len(mailbox.to(OWNER)) == 1
    # and the slot stays taken
    assert (await book(gql, "intro", SLOT, email="dora@example.com"))["__typename"] == "SlotUnavailableError"


async def test_pending_writes_are_resumed_by_a_restarted_app(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    world: World,
    services: Services,
    clock: FakeClock,
    outage: EventInsertOutage,
) -> None:
    # given: a booking whose write failed once and waits for its retry
    token = await google_page(gql, http)
    await book(gql, "intro", SLOT)
    (stored,) = await my_meetings(gql, token)
    assert stored["syncState"] == "PENDING"
    # when: that process is gone and another one's worker (a new queue, its own name) runs after the backoff
    outage.active = False
    restarted = JobQueue(services)
    restarted.register(KINDS)
    clock.advance(minutes=10)
    await restarted.drain()
    # then
    (stored,) = await my_meetings(gql, token)
    assert stored["syncState"] == "SYNCED" and primary_events(world.google) == 1


@pytest.mark.parametrize("provider", ["GOOGLE", "OFFICE365", "EXCHANGE"])
@pytest.mark.parametrize("lost", ["503", "disconnect"])
async def test_a_write_whose_answer_was_lost_is_retried_into_one_event(
    gql: GraphQLClient, http: httpx.AsyncClient, world: World, services: Services, provider: str, lost: str
) -> None:
    # given: the provider stores the event but its answer never arrives
    _, token = await create_user(gql, OWNER)
    await connect(gql, http, token, provider)
    await create_page(gql, token, slug="intro", timezone="Europe/Berlin")
    state = state_of(world, provider)
    state.faults.lose_next_create = lost
    # when: booked, and the write job retried
    result = await book(gql, "intro", SLOT)
    await services.drain()
    # then: one event, the meeting synced to it
    assert result["__typename"] == "BookMeetingSuccess"
    (stored,) = await my_meetings(gql, token)
    assert stored["syncState"] == "SYNCED"
    assert len(live_events(state, primary_id(state, ACCOUNTS[provider]))) == 1
