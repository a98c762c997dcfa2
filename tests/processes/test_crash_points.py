"""SIGKILL at each step of a booking, restart on the same database: every committed change has its effects
exactly once (one calendar event, one stored attempt, published once), an uncommitted one has none.

The server is a real `meetgraph serve` process (SQLite file); the emulators and a Redis subscriber on the
owner's channel live in the test process, so they see what happens across the crash.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from db.models import JobState
from meetgraph import failpoints
from resolvers.attempts import PUBLISH
from resolvers.calendar_writes import WRITE_MEETING
from tests.utils.broadcast import Published, published_attempts
from tests.utils.calendars import live_events, primary_id
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient, parse
from tests.utils.meeting import book, future_slots, my_meetings
from tests.utils.page import PageOwner, page_owner
from tests.utils.processes import KICKED_ONLY, POLLING, Process, Processes

ATTEMPTS = "query { me { bookingAttempts(last: 50) { id outcome start } } }"
SLOT = future_slots(1)[0]
KILLED = -9


async def attempts(gql: GraphQLClient, owner: PageOwner) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await gql(ATTEMPTS, token=owner.token))["me"]["bookingAttempts"]
    return found


async def settled(processes: Processes) -> None:
    """Until the calendar write and the attempt's publishing are DONE or FAILED (the restarted worker's)."""

    async def done() -> bool:
        return await processes.settled(WRITE_MEETING) and await processes.settled(PUBLISH)

    await processes.wait_until(done, "the write and publish jobs are settled")


async def assert_booked_once(
    processes: Processes, gql: GraphQLClient, world: World, owner: PageOwner, published: Published
) -> None:
    """One meeting, synced to the one event in the primary calendar; one BOOKED attempt, published once."""
    await settled(processes)
    (meeting,) = await my_meetings(gql, owner.token)
    assert (parse(meeting["start"]), meeting["status"], meeting["syncState"]) == (SLOT, "BOOKED", "SYNCED")
    (event,) = live_events(world.google, primary_id(world.google, GOOGLE_USER))
    assert event.start == SLOT
    (attempt,) = await attempts(gql, owner)
    assert attempt["outcome"] == "BOOKED"
    assert await published.fence() == Counter({attempt["id"]: 1})
    assert [job.state for job in await processes.jobs(WRITE_MEETING)] == [JobState.DONE]


async def booking_dies(
    server: Process, gql: GraphQLClient, owner: PageOwner, failpoint: str, key: str | None = None
) -> None:
    with pytest.raises(httpx.TransportError):
        await book(gql, owner.slug, SLOT, key=key)
    assert await server.exited() == KILLED
    assert f"failpoint {failpoint}: SIGKILL" in server.output()


@dataclass
class Scene:
    server: Process
    gql: GraphQLClient
    owner: PageOwner
    published: Published


@asynccontextmanager
async def scene(processes: Processes, redis_url: str, failpoint: str | None = None) -> AsyncIterator[Scene]:
    """A server (with `failpoint` armed) and an owner with a page whose channel is listened to."""
    server = processes.server(MEETGRAPH_BROADCAST_URL=redis_url, **KICKED_ONLY)
    await server.start(**({failpoints.ENV: failpoint} if failpoint else {}))
    async with server.client() as http:
        gql = GraphQLClient(http)
        owner = await page_owner(gql, http)
        async with published_attempts(redis_url, owner.user_id) as published:
            yield Scene(server, gql, owner, published)


async def test_a_crash_before_the_booking_commits_leaves_nothing(
    processes: Processes, world: World, redis_url: str
) -> None:
    # given
    async with scene(processes, redis_url, failpoints.BOOKING_BEFORE_COMMIT) as s:
        # when
        await booking_dies(s.server, s.gql, s.owner, failpoints.BOOKING_BEFORE_COMMIT)
        await s.server.start(MEETGRAPH_FAILPOINTS=None, **POLLING)
        # then: no meeting, no event, no attempt, no job, nothing published; the slot is free
        assert await my_meetings(s.gql, s.owner.token) == []
        assert await attempts(s.gql, s.owner) == []
        assert await processes.jobs(WRITE_MEETING) == [] and await processes.jobs(PUBLISH) == []
        assert live_events(world.google, primary_id(world.google, GOOGLE_USER)) == []
        assert await s.published.fence() == Counter()
        assert (await book(s.gql, s.owner.slug, SLOT))["__typename"] == "BookMeetingSuccess"
        await assert_booked_once(processes, s.gql, world, s.owner, s.published)


async def test_a_crash_right_after_the_commit_writes_the_event_after_the_restart(
    processes: Processes, world: World, redis_url: str
) -> None:
    # given
    async with scene(processes, redis_url, failpoints.BOOKING_AFTER_COMMIT) as s:
        # when: the visitor's answer is lost with the process
        await booking_dies(s.server, s.gql, s.owner, failpoints.BOOKING_AFTER_COMMIT, key="visitor-7")
        assert live_events(world.google, primary_id(world.google, GOOGLE_USER)) == []
        await s.server.start(MEETGRAPH_FAILPOINTS=None, **POLLING)
        # then
        await assert_booked_once(processes, s.gql, world, s.owner, s.published)
        # and the visitor, sending the form again with its key, is told of the booking that exists
        again = await book(s.gql, s.owner.slug, SLOT, key="visitor-7")
        (meeting,) = await my_meetings(s.gql, s.owner.token)
        assert again["__typename"] == "BookMeetingSuccess" and again["meeting"]["id"] == meeting["id"]
        await assert_booked_once(processes, s.gql, world, s.owner, s.published)


async def hold_until_published(
    processes: Processes, world: World, published: Published, booking: asyncio.Task[Any]
) -> None:
    """The booking's create is held in the emulator until the attempt is published and its job DONE (by the
    in-process worker meanwhile), so the crash that follows cannot fall between publishing and DONE."""
    faults = world.google.faults
    await processes.wait_until(lambda: faults.creates_held == 1 or booking.done(), "the create is held")
    assert not booking.done(), booking

    async def published_and_done() -> bool:
        return bool(await processes.jobs(PUBLISH, JobState.DONE))

    await processes.wait_until(published_and_done, "the attempt is published")
    assert sum((await published.fence()).values()) == 1


async def test_a_crash_between_the_providers_answer_and_storing_the_event_id_writes_no_duplicate(
    processes: Processes, world: World, redis_url: str
) -> None:
    # given
    async with scene(processes, redis_url, failpoints.CALENDAR_WRITE_AFTER_PROVIDER) as s:
        world.google.faults.hold_creates = True
        booking = asyncio.create_task(book(s.gql, s.owner.slug, SLOT))
        await hold_until_published(processes, world, s.published, booking)
        # when: the provider stores the event and answers; the server dies before storing its id
        world.google.faults.hold_creates = False
        with pytest.raises(httpx.TransportError):
            await booking
        assert await s.server.exited() == KILLED
        assert f"failpoint {failpoints.CALENDAR_WRITE_AFTER_PROVIDER}: SIGKILL" in s.server.output()
        assert len(live_events(world.google, primary_id(world.google, GOOGLE_USER))) == 1
        await s.server.start(MEETGRAPH_FAILPOINTS=None, **POLLING)
        # then: the write job, claimed by the dead process, is taken again when its lease ends
        await assert_booked_once(processes, s.gql, world, s.owner, s.published)
        (job,) = await processes.jobs(WRITE_MEETING)
        assert job.attempts == 2


async def test_a_crash_during_the_providers_write_writes_no_duplicate(
    processes: Processes, world: World, redis_url: str
) -> None:
    # given
    faults = world.google.faults
    async with scene(processes, redis_url) as s:
        faults.hold_creates = True
        booking = asyncio.create_task(book(s.gql, s.owner.slug, SLOT))
        await hold_until_published(processes, world, s.published, booking)
        # when: the server dies while the provider holds its create
        assert s.server.kill() == KILLED
        with pytest.raises(httpx.TransportError):
            await booking
        await s.server.start(**POLLING)
        # the restarted worker retries the write once the dead one's lease ends: both creates in flight
        await processes.wait_until(lambda: faults.creates_held == 2, "the retried create is held too")
        faults.hold_creates = False
        # then
        await assert_booked_once(processes, s.gql, world, s.owner, s.published)
