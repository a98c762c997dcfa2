"""attempts.stream: each attempt once per subscriber, nothing from before it began, gaps caught up."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from db.models import BookingAttempt, BookingOutcome
from meetgraph.services import Services
from resolvers import attempts
from resolvers.users import NewUser, insert_user
from tests.utils.clock import FakeClock


async def stored_attempt(services: Services, user_id: uuid.UUID, occurred_at: datetime) -> BookingAttempt:
    attempt = BookingAttempt(
        user_id=user_id,
        page_slug="intro",
        contact_email="carla@example.com",
        start=datetime(2026, 12, 2, 9, tzinfo=UTC),
        outcome=BookingOutcome.BOOKED,
        occurred_at=occurred_at,
    )
    async with services.sessionmaker() as session:
        session.add(attempt)
        await session.commit()
    return attempt


async def owner(services: Services) -> uuid.UUID:
    async with services.sessionmaker() as session:
        user, _ = await insert_user(
            session=session, data=NewUser(email="ada@example.com", name="Ada"), now=services.clock()
        )
        await session.commit()
        return user.id


class Listening:
    def __init__(self) -> None:
        self.ready = asyncio.Event()

    def subscribed(self, user_id: object) -> None:
        self.ready.set()


async def collect(services: Services, user_id: uuid.UUID, count: int) -> tuple[asyncio.Task[list[str]], Listening]:
    listening = Listening()
    services.events = listening  # type: ignore[assignment]

    async def run() -> list[str]:
        got: list[str] = []
        async for attempt in attempts.stream(services, user_id):
            got.append(str(attempt.id))
            if len(got) == count:
                break
        return got

    task = asyncio.create_task(run())
    await asyncio.wait_for(listening.ready.wait(), 10)
    return task, listening


async def publish(services: Services, attempt: BookingAttempt) -> None:
    await attempts.publish(services, {"attempt_id": str(attempt.id)})


async def test_a_repeated_publish_reaches_a_subscriber_once(services: Services, clock: FakeClock) -> None:
    # given
    user_id = await owner(services)
    task, _ = await collect(services, user_id, 2)
    first = await stored_attempt(services, user_id, clock())
    second = await stored_attempt(services, user_id, clock())
    # when: the first is published twice (a job that ran again after a crash)
    await publish(services, first)
    await publish(services, first)
    await publish(services, second)
    # then
    assert await asyncio.wait_for(task, 10) == [str(first.id), str(second.id)]


async def test_an_attempt_from_before_the_subscription_is_not_given_to_it(services: Services, clock: FakeClock) -> None:
    # given: an attempt whose publishing was retried long after it happened
    user_id = await owner(services)
    old = await stored_attempt(services, user_id, clock() - timedelta(minutes=10))
    task, _ = await collect(services, user_id, 1)
    new = await stored_attempt(services, user_id, clock())
    # when
    await publish(services, old)
    await publish(services, new)
    # then
    assert await asyncio.wait_for(task, 10) == [str(new.id)]
