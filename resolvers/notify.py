"""Mails to page owners (sent after the response; failures are logged, never lost silently)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from db.models import User
from meetgraph.services import Services


def _when(start: datetime, user: User) -> str:
    return start.astimezone(ZoneInfo(user.timezone)).strftime(f"%A %d %B %Y, %H:%M ({user.timezone})")


def _mail_owner(services: Services, owner_id: uuid.UUID, subject: str, body: Callable[[User], str], name: str) -> None:
    """Mail the owner in the background; `body` gets the owner to phrase times in their zone."""

    async def send() -> None:
        async with services.sessionmaker() as session:
            owner = await session.get(User, owner_id)
        if owner is not None:
            await services.mailer.send(to=owner.email, subject=subject, body=body(owner))

    services.spawn(send(), name)


def meeting_requested(services: Services, owner_id: uuid.UUID, slug: str, start: datetime, contact: str) -> None:
    _mail_owner(
        services,
        owner_id,
        f"Meeting request from {contact}",
        lambda owner: (
            f"{contact} asked to meet on {_when(start, owner)} through /meetings/{slug}.\n"
            "No calendar is connected, so the request was not added to a calendar; "
            "reply to the contact to confirm."
        ),
        "mail-meeting-requested",
    )


def booking_blocked(
    services: Services, owner_id: uuid.UUID, slug: str, start: datetime, contact: str, calendars: list[str]
) -> None:
    _mail_owner(
        services,
        owner_id,
        "Someone tried to book a meeting with you",
        lambda owner: (
            f"{contact} tried to book {_when(start, owner)} through /meetings/{slug}, but access to "
            f"{', '.join(calendars)} was lost, so nobody can book your scheduling pages.\n"
            "Reconnect the calendar or remove it from your availability calendars in the calendar settings."
        ),
        "mail-booking-blocked",
    )


def sync_failed(services: Services, owner_id: uuid.UUID, start: datetime, contact: str, reason: str) -> None:
    _mail_owner(
        services,
        owner_id,
        f"A meeting with {contact} could not be added to your calendar",
        lambda owner: (
            f"The meeting with {contact} on {_when(start, owner)} is booked, but writing it to your "
            f"calendar failed: {reason}. Please add it by hand."
        ),
        "mail-sync-failed",
    )
