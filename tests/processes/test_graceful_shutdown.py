"""SIGTERM to `meetgraph serve`: the request in flight and the job it runs finish within the grace, the process
exits 0, and what is queued stays queued for the next start; past the grace the job goes back to the queue."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from db.models import JobState
from emulators.runner import free_port
from resolvers.attempts import PUBLISH
from resolvers.calendar_writes import WRITE_MEETING
from resolvers.notify import MAIL_OWNER
from tests.utils.calendars import live_events, primary_id
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.meeting import BOOK, book, booking_input, future_slots, my_meetings
from tests.utils.page import page_owner
from tests.utils.processes import KICKED_ONLY, POLLING, Process, Processes

GRACE = 1.0
SMTP_DOWN = {"MEETGRAPH_SMTP_URL": f"smtp://127.0.0.1:{free_port()}", "MEETGRAPH_JOB_BACKOFF_SECONDS": "60"}
"""Mails fail (nothing listens there) and wait a minute for their next try: queued through the whole test."""


async def listed(processes: Processes) -> dict[str, Any]:
    """`meetgraph jobs --json`: pending, running and failed jobs, with the counts per state."""
    done = await processes.cli("jobs", "--json")
    assert done.returncode == 0, done.stderr
    listing: dict[str, Any] = json.loads(done.stdout)
    return listing


async def sigterm_while_held(server: Process, world: World, booking: asyncio.Task[Any], processes: Processes) -> None:
    """SIGTERM once the booking's calendar write is held in the emulator; returns when the server stopped
    listening (the shutdown has begun)."""
    await processes.wait_until(lambda: world.google.faults.creates_held == 1 or booking.done(), "the create is held")
    assert not booking.done(), booking
    server.terminate()

    async def closed() -> bool:
        return not await server.listening()

    await processes.wait_until(closed, "the server stops accepting connections")


async def test_sigterm_lets_the_request_and_its_job_finish_and_keeps_queued_jobs(
    processes: Processes, world: World
) -> None:
    # given: a mail that cannot be sent yet (queued), and a booking whose calendar write is in flight
    server = await processes.server(**SMTP_DOWN, **KICKED_ONLY).start()
    async with server.client() as http:
        gql = GraphQLClient(http)
        ada = await page_owner(gql, http)
        bob = await page_owner(gql, http, "bob@example.com", provider=None)
        assert (await book(gql, bob.slug, future_slots(1)[0]))["__typename"] == "BookMeetingSuccess"

        async def mail_failed_once() -> bool:
            return any(job.last_error for job in await processes.jobs(MAIL_OWNER, JobState.PENDING))

        await processes.wait_until(mail_failed_once, "the mail's first try failed")
        world.google.faults.hold_creates = True
        booking = asyncio.create_task(book(gql, ada.slug, future_slots(1)[0]))
        await processes.wait_until(lambda: processes.settled(PUBLISH), "both attempts are published")
        # when
        await sigterm_while_held(server, world, booking, processes)
        world.google.faults.hold_creates = False
        # then
        result = await booking
        assert result["__typename"] == "BookMeetingSuccess" and result["meeting"]["syncState"] == "SYNCED"
        assert await server.exited() == 0
        assert len(live_events(world.google, primary_id(world.google, GOOGLE_USER))) == 1
        listing = await listed(processes)
        (mail,) = listing["jobs"]
        assert (mail["kind"], mail["state"], mail["attempts"]) == (MAIL_OWNER, "PENDING", 1)
        assert "connect" in mail["last_error"].lower()
        assert listing["counts"] == {"DONE": 4, "PENDING": 1}  # the write, both attempts' publishing, the first sync


async def test_a_job_still_running_after_the_grace_goes_back_to_the_queue(processes: Processes, world: World) -> None:
    # given
    server = await processes.server(MEETGRAPH_SHUTDOWN_GRACE_SECONDS=str(GRACE), **KICKED_ONLY).start()
    faults = world.google.faults
    async with server.client() as http:
        gql = GraphQLClient(http)
        ada = await page_owner(gql, http)
        faults.hold_creates = True
        variables = booking_input(ada.slug, future_slots(1)[0])
        booking = asyncio.create_task(http.post("/graphql", json={"query": BOOK, "variables": variables}))
        # when: the write is still held when the grace ends
        await sigterm_while_held(server, world, booking, processes)
        assert await server.exited(timeout=GRACE + 10) == 0
        # the request was cancelled with its job: the booking stands, the visitor's answer is lost
        assert (await booking).status_code == 500
        # then: the write is queued again, this try not counted; the next start writes the event once
        (write,) = (await listed(processes))["jobs"]
        assert (write["kind"], write["state"], write["attempts"]) == (WRITE_MEETING, "PENDING", 0)
        await server.start(**POLLING)
        await processes.wait_until(lambda: faults.creates_held == 2, "the next start's create is held too")
        faults.hold_creates = False
        await processes.wait_until(lambda: processes.settled(WRITE_MEETING), "the write is done")
        (meeting,) = await my_meetings(gql, ada.token)
        assert meeting["syncState"] == "SYNCED"
        assert len(live_events(world.google, primary_id(world.google, GOOGLE_USER))) == 1
