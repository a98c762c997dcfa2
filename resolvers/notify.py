"""Mails to page owners (sent after the response; failures are logged, never lost silently)."""

from __future__ import annotations

import uuid
from datetime import datetime

from db.models import User
from meetgraph.services import Services


async def _owner(services: Services, owner_id: uuid.UUID) -> User | None:
    async with services.sessionmaker() as session:
        return await session.get(User, owner_id)


def _when(start: datetime, user: User) -> str:
    from zoneinfo import ZoneInfo

    return start.astimezone(ZoneInfo(user.timezone)).strftime(f"%A %d %B %Y, %H:%M ({user.timezone})")


def meeting_requested(services: Services, owner_id: uuid.UUID, slug: str, start: datetime, contact: str) -> None:
    async def send() -> None:
        owner = await _owner(services, owner_id)
        if owner is None:
            return
        await services.mailer.send(
            to=owner.email,
            subject=f"Meeting request from {contact}",
            body=(
                f"{contact} asked to meet on {_when(start, owner)} through /meetings/{slug}.\n"
                "No calendar is connected, so the request was not added to a calendar; "
                "reply to the contact to confirm."
            ),
        )

    services.spawn(send(), "mail-meeting-requested")


def booking_blocked(
    services: Services, owner_id: uuid.UUID, slug: str, start: datetime, contact: str, calendars: list[str]
) -> None:
    async def send() -> None:
        owner = await _owner(services, owner_id)
        if owner is None:
            return
        await services.mailer.send(
            to=owner.email,
            subject="Someone tried to book a meeting with you",
            body=(
                f"{contact} tried to book {_when(start, owner)} through /meetings/{slug}, but access to "
                f"{', '.join(calendars)} was lost, so nobody can book your scheduling pages.\n"
                "Reconnect the calendar or remove it from your availability calendars in the calendar settings."
            ),
        )

    services.spawn(send(), "mail-booking-blocked")


def sync_failed(services: Services, owner_id: uuid.UUID, start: datetime, contact: str, reason: str) -> None:
    async def send() -> None:
        owner = await _owner(services, owner_id)
        if owner is None:
            return
        await services.mailer.send(
            to=owner.email,
            subject=f"A meeting with {contact} could not be added to your calendar",
            body=(
                f"The meeting with {contact} on {_when(start, owner)} is booked, but writing it to your "
                f"calendar failed: {reason}. Please add it by hand."
            ),
        )

    services.spawn(send(), "mail-sync-failed")
