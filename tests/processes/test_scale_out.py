"""Scale-out on PostgreSQL: web processes without workers beside `meetgraph worker` processes, one database.

One slot booked 50 times at once through two web processes is taken once; two workers draining 200 mails
send each once (claims skip each other's rows; a lease is extended while its job runs).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from db.engine import make_sessionmaker
from db.models import JobState
from meetgraph import jobs
from resolvers.attempts import PUBLISH
from resolvers.calendar_writes import WRITE_MEETING
from resolvers.notify import MAIL_OWNER
from tests.utils.broadcast import published_attempts
from tests.utils.calendars import live_events, primary_id
from tests.utils.emulators import GOOGLE_USER, World
from tests.utils.graphql import GraphQLClient
from tests.utils.mail import Mailbox, smtp_server
from tests.utils.meeting import book, future_slots, my_meetings
from tests.utils.page import page_owner
from tests.utils.processes import Processes
from tests.utils.user import create_user

BOOKINGS = 50
MAILS = 200
ATTEMPTS = "query($last: Int!) { me { bookingAttempts(last: $last) { id outcome } } }"
WEB_ONLY = {"MEETGRAPH_RUN_WORKERS": "false"}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


async def test_one_slot_booked_fifty_times_through_two_web_processes_is_taken_once(
    pg_processes: Processes, world: World, redis_url: str, mailbox: Mailbox
) -> None:
    # given: two web processes and one worker on one PostgreSQL database, Redis between them
    shared = {**WEB_ONLY, "MEETGRAPH_BROADCAST_URL": redis_url, "MEETGRAPH_SMTP_URL": mailbox.url}
    web = [pg_processes.server("web-1", **shared), pg_processes.server("web-2", **shared)]
    for process in web:
        await process.start()  # one after the other: the first applies the migrations
    await pg_processes.worker(**shared).start()
    slot = future_slots(1)[0]
    async with web[0].client() as first, web[1].client() as second:
        clients = [GraphQLClient(first), GraphQLClient(second)]
        owner = await page_owner(clients[0], first)
        async with published_attempts(redis_url, owner.user_id) as published:
            # when
            results = await asyncio.gather(
                *(book(clients[n % 2], owner.slug, slot, email=f"visitor{n}@example.com") for n in range(BOOKINGS))
            )
            # then
            assert Counter(r["__typename"] for r in results) == {
                "BookMeetingSuccess": 1,
                "SlotUnavailableError": BOOKINGS - 1,
            }
            await pg_processes.wait_until(
                lambda: _settled(pg_processes, WRITE_MEETING, PUBLISH), "the write and every publish are settled"
            )
            assert len(await my_meetings(clients[1], owner.token)) == 1
            assert len(live_events(world.google, primary_id(world.google, GOOGLE_USER))) == 1
            data = await clients[1](ATTEMPTS, {"last": 100}, owner.token)
            stored = data["me"]["bookingAttempts"]
            assert Counter(a["outcome"] for a in stored) == {"BOOKED": 1, "SLOT_UNAVAILABLE": BOOKINGS - 1}
            assert await published.fence() == Counter({a["id"]: 1 for a in stored})
    assert mailbox.received() == []  # a booking into a connected calendar mails nobody


async def _settled(processes: Processes, *kinds: str) -> bool:
    for kind in kinds:
        if not await processes.settled(kind):
            return False
    return True


def _mail(owner_id: str, n: int) -> dict[str, Any]:
    start = future_slots(1)[0].isoformat()
    return {
        "owner_id": owner_id,
        "template": "meeting_requested",
        "params": {"slug": "intro", "start": start, "contact": f"visitor{n}@example.com"},
        "message_id": f"<{uuid.uuid4()}@meetgraph>",
    }


async def test_two_workers_send_two_hundred_mails_once_each(pg_processes: Processes, mailbox: Mailbox) -> None:
    # given: one web process (it migrates), two idle workers polling the same queue
    shared = {**WEB_ONLY, "MEETGRAPH_SMTP_URL": mailbox.url}
    server = await pg_processes.server(**shared).start()
    workers = [pg_processes.worker("worker-1", **shared), pg_processes.worker("worker-2", **shared)]
    await asyncio.gather(*(worker.start() for worker in workers))
    async with server.client() as http:
        owner_id, _ = await create_user(GraphQLClient(http), "ada@example.com")
    payloads = [_mail(owner_id, n) for n in range(MAILS)]
    # when: all enqueued in one transaction, as a burst of bookings would
    async with make_sessionmaker(pg_processes.engine)() as session:
        for payload in payloads:
            await jobs.enqueue(session, MAIL_OWNER, payload, now=datetime.now(UTC))
        await session.commit()
    # then
    await pg_processes.wait_until(lambda: _settled(pg_processes, MAIL_OWNER), "every mail job is settled")
    sent = Counter(message["Message-ID"] for message in mailbox.received())
    assert sent == Counter({payload["message_id"]: 1 for payload in payloads})
    done = await pg_processes.jobs(MAIL_OWNER)
    assert {(job.state, job.attempts) for job in done} == {(JobState.DONE, 1)}
    assert all(worker.running for worker in workers)
