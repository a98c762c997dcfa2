"""Booking attempts: stored with the booking (or refusal) they record, then published to the owner's channel for
the bookingAttempts subscription by a durable job."""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from graphql import GraphQLError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import BookingAttempt, BookingOutcome
from meetgraph import jobs
from meetgraph.context import Context
from meetgraph.services import Services

MAX_RECENT = 500


class BadLimit(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


def channel_for(user_id: uuid.UUID) -> str:
    return f"meetgraph.booking-attempts.{user_id}"


def _encode(attempt: BookingAttempt) -> str:
    return json.dumps(
        {
            "id": str(attempt.id),
            "user_id": str(attempt.user_id),
            "page_id": str(attempt.page_id) if attempt.page_id else None,
            "page_slug": attempt.page_slug,
            "contact_email": attempt.contact_email,
            "start": attempt.start.isoformat(),
            "outcome": attempt.outcome.value,
            "message": attempt.message,
            "occurred_at": attempt.occurred_at.isoformat(),
        }
    )


def _decode(raw: str) -> BookingAttempt:
    data = json.loads(raw)
    return BookingAttempt(
        id=uuid.UUID(data["id"]),
        user_id=uuid.UUID(data["user_id"]),
        page_id=uuid.UUID(data["page_id"]) if data["page_id"] else None,
        page_slug=data["page_slug"],
        contact_email=data["contact_email"],
        start=datetime.fromisoformat(data["start"]),
        outcome=BookingOutcome(data["outcome"]),
        message=data["message"],
        occurred_at=datetime.fromisoformat(data["occurred_at"]),
    )


PUBLISH = "attempt.publish"
PUBLISH_ATTEMPTS = 150
"""With retries at most 2 s apart, an attempt is published if the broadcast backend is back within ~5 minutes."""


async def record(
    session: AsyncSession,
    services: Services,
    *,
    user_id: uuid.UUID,
    page_id: uuid.UUID | None,
    page_slug: str,
    contact_email: str,
    start: datetime,
    outcome: BookingOutcome,
    message: str | None = None,
) -> uuid.UUID | None:
    """Store the attempt in the session's transaction, with the job that publishes it; returns the job's id."""
    attempt = BookingAttempt(
        user_id=user_id,
        page_id=page_id,
        page_slug=page_slug,
        contact_email=contact_email[:254],
        start=start,
        outcome=outcome,
        message=message[:500] if message else None,
        occurred_at=services.clock(),
    )
    session.add(attempt)
    return await jobs.enqueue(
        session, PUBLISH, {"attempt_id": str(attempt.id)}, now=services.clock(), max_attempts=PUBLISH_ATTEMPTS
    )


async def publish(services: Services, payload: dict[str, str]) -> None:
    """The job: send the stored attempt to the owner's channel (a repeat after a crash is harmless)."""
    async with services.sessionmaker() as session:
        attempt = await session.get(BookingAttempt, uuid.UUID(payload["attempt_id"]))
    if attempt is not None:
        await services.broadcast.publish(channel=channel_for(attempt.user_id), message=_encode(attempt))


KINDS = {PUBLISH: jobs.JobKind(PUBLISH, publish, max_backoff=2.0)}


async def recent(ctx: Context, user_id: uuid.UUID, last: int) -> list[BookingAttempt]:
    """The owner's latest attempts, newest first (for a client catching up after reconnecting)."""
    if not 1 <= last <= MAX_RECENT:
        raise BadLimit(f"last must be between 1 and {MAX_RECENT}")
    async with ctx.db() as session:
        rows = await session.exec(
            select(BookingAttempt)
            .where(BookingAttempt.user_id == user_id)
            .order_by(col(BookingAttempt.occurred_at).desc(), col(BookingAttempt.id))
            .limit(last)
        )
        return list(rows.all())


SEEN = 1000
"""Attempt ids a subscription remembers, to drop repeats (publishing is at least once) and catch-up overlap."""
CATCH_UP_MARGIN = timedelta(minutes=1)
"""Clocks of several processes differ: a subscription takes attempts from this long before it began, and
catching up after a gap re-reads this far behind the last attempt seen (repeats are dropped by id)."""


async def stream(services: Services, user_id: uuid.UUID) -> AsyncIterator[BookingAttempt]:
    """Every attempt on the user's pages from now on, each once; the subscription ends cleanly on disconnect.

    When the broadcast backend was lost and is back (a gap), what was published meanwhile is read from the
    attempts table, so a Redis restart costs subscribers nothing.
    """
    seen: deque[uuid.UUID] = deque(maxlen=SEEN)
    start = services.clock() - CATCH_UP_MARGIN
    last = start

    def fresh(attempt: BookingAttempt) -> bool:
        """Not yet given to this subscriber, and not from before it began (a publish retried late)."""
        nonlocal last
        if attempt.id in seen or attempt.occurred_at < start:
            return False
        seen.append(attempt.id)
        last = max(last, attempt.occurred_at)
        return True

    async with services.broadcast.subscribe(channel=channel_for(user_id)) as subscriber:
        services.events.subscribed(user_id)
        async for event in subscriber:
            if event.gap:
                for attempt in await _since(services, user_id, max(start, last - CATCH_UP_MARGIN)):
                    if fresh(attempt):
                        yield attempt
            else:
                attempt = _decode(event.message)
                if fresh(attempt):
                    yield attempt


async def _since(services: Services, user_id: uuid.UUID, since: datetime) -> list[BookingAttempt]:
    async with services.sessionmaker() as session:
        rows = await session.exec(
            select(BookingAttempt)
            .where(BookingAttempt.user_id == user_id, col(BookingAttempt.occurred_at) >= since)
            .order_by(col(BookingAttempt.occurred_at), col(BookingAttempt.id))
            .limit(MAX_RECENT)
        )
        return list(rows.all())
