"""bookMeeting's idempotencyKey: a visitor's retry (a lost answer, a double click, a reloaded form) answers
the first booking's result instead of booking again.

The key is stored hashed with a fingerprint of the request, in the same transaction as the booking (or the
refused attempt). A repeat within 24 hours gets the first answer: the booked meeting, or the typed error
of a refusal. Transient failures (the calendar could not be checked) are not remembered: trying again is
what the visitor should do. The same key with a different request is a ValidationError, so a key never
reveals someone else's booking.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import BookingKey, Meeting
from meetgraph.services import Services
from scheduling import errors, validation
from scheduling.errors import InvalidInput, UserError

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
ERRORS: dict[str, type[UserError]] = {
    kind.__name__: kind for kind in (errors.SlotUnavailable, errors.AccessLost, errors.PagesDisabled)
}


def _sha256(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Key:
    key_hash: str
    fingerprint: str
    now: datetime

    @classmethod
    def of(
        cls, key: str, slug: str, domain: str | None, start: datetime, email: str, name: str, *, now: datetime
    ) -> Key:
        cleaned = validation.text(key, "idempotencyKey", max_length=MAX_KEY_LENGTH)
        fingerprint = _sha256(slug.strip().lower(), (domain or "").strip().lower(), start.isoformat(), email, name)
        return cls(key_hash=_sha256(cleaned), fingerprint=fingerprint, now=now)


class AlreadyAnswered(Exception):
    """The key's first request booked this meeting: it is the answer again."""

    def __init__(self, meeting: Meeting) -> None:
        super().__init__("answered before")
        self.meeting = meeting


async def replay(services: Services, key: Key) -> None:
    """Raise the key's first answer (AlreadyAnswered, or the stored typed error); return when there is none."""
    async with services.sessionmaker() as session:
        row = await session.get(BookingKey, key.key_hash)
        if row is None or row.created_at < key.now - TTL:
            return
        if row.fingerprint != key.fingerprint:
            raise InvalidInput("this idempotencyKey was already used for a different booking", field="idempotencyKey")
        if row.meeting_id is not None:
            meeting = await session.get(Meeting, row.meeting_id)
            if meeting is not None:
                raise AlreadyAnswered(meeting)
            return
    kind = ERRORS.get(row.error_type or "", InvalidInput)
    raise kind(row.error_message or "", field=row.error_field)


async def _make_room(session: AsyncSession, key: Key) -> None:
    """Forget keys past their 24 hours (this one's too, so it can be used afresh)."""
    await session.execute(delete(BookingKey).where(col(BookingKey.created_at) < key.now - TTL))


async def add_meeting(session: AsyncSession, key: Key, meeting: Meeting) -> None:
    await _make_room(session, key)
    session.add(
        BookingKey(key_hash=key.key_hash, fingerprint=key.fingerprint, meeting_id=meeting.id, created_at=key.now)
    )


async def add_error(session: AsyncSession, key: Key, error: UserError) -> None:
    if type(error).__name__ not in ERRORS:
        return
    await _make_room(session, key)
    session.add(
        BookingKey(
            key_hash=key.key_hash,
            fingerprint=key.fingerprint,
            error_type=type(error).__name__,
            error_message=error.message[:500],
            error_field=error.field,
            created_at=key.now,
        )
    )
