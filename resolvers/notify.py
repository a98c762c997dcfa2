"""Mails to page owners, as durable jobs: enqueued with the change that causes them, sent by a worker,
retried while the SMTP server is down or slow, and never sent again once the server accepted them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import User
from meetgraph import jobs
from meetgraph.mail import MailRefused
from meetgraph.services import Services

MAIL_OWNER = "mail.owner"


def _when(start: datetime, user: User) -> str:
    return start.astimezone(ZoneInfo(user.timezone)).strftime(f"%A %d %B %Y, %H:%M ({user.timezone})")


def _meeting_requested(owner: User, p: dict[str, Any]) -> tuple[str, str]:
    return f"Meeting request from {p['contact']}", (
        f"{p['contact']} asked to meet on {_when(datetime.fromisoformat(p['start']), owner)} "
        f"through /meetings/{p['slug']}.\n"
        "No calendar is connected, so the request was not added to a calendar; reply to the contact to confirm."
    )


def _booking_blocked(owner: User, p: dict[str, Any]) -> tuple[str, str]:
    return "Someone tried to book a meeting with you", (
        f"{p['contact']} tried to book {_when(datetime.fromisoformat(p['start']), owner)} through "
        f"/meetings/{p['slug']}, but access to {', '.join(p['calendars'])} was lost, so nobody can book your "
        "scheduling pages.\n"
        "Reconnect the calendar or remove it from your availability calendars in the calendar settings."
    )


def _sync_failed(owner: User, p: dict[str, Any]) -> tuple[str, str]:
    return f"A meeting with {p['contact']} could not be added to your calendar", (
        f"The meeting with {p['contact']} on {_when(datetime.fromisoformat(p['start']), owner)} is booked, "
        f"but writing it to your calendar failed: {p['reason']}. Please add it by hand."
    )


INACTIVE_MAILS: dict[str, tuple[str, str]] = {
    "PASSWORD_REFUSED": (
        "Exchange refused the password of {email}",
        "Your Exchange server refused the password meetgraph stored for {email} (it was probably changed or has "
        "expired). So that your account is not locked out, meetgraph stopped signing in with it: your calendar "
        "is not checked and nobody can book your scheduling pages for now.\n"
        "Re-enter the password of {email} in your calendar settings; booking works again at once.",
    ),
    "ACCOUNT_LOCKED_OUT": (
        "Your Exchange account {email} is locked out",
        "Your Exchange server says the account {email} is locked out (too many failed sign-ins). meetgraph "
        "stopped signing in, because every further attempt keeps it locked: your calendar is not checked and "
        "nobody can book your scheduling pages for now.\n"
        "Wait until the lockout ends or ask your Exchange administrator to unlock the account, then re-enter "
        "its password in your calendar settings.",
    ),
    "ACCESS_REVOKED": (
        "Calendar access to {email} was revoked",
        "meetgraph can no longer read the calendar of {email}: access was revoked or expired at the provider. "
        "Nobody can book your scheduling pages for now.\n"
        "Disconnect the calendar in your calendar settings and connect it again.",
    ),
}
"""Subject and body per InactiveReason."""


def _connection_inactive(owner: User, p: dict[str, Any]) -> tuple[str, str]:
    subject, body = INACTIVE_MAILS[p["reason"]]
    return subject.format(email=p["email"]), body.format(email=p["email"])


TEMPLATES: dict[str, Callable[[User, dict[str, Any]], tuple[str, str]]] = {
    "meeting_requested": _meeting_requested,
    "booking_blocked": _booking_blocked,
    "sync_failed": _sync_failed,
    "connection_inactive": _connection_inactive,
}


async def _mail_owner(
    session: AsyncSession, services: Services, owner_id: uuid.UUID, template: str, **params: Any
) -> None:
    """Enqueue the mail in the session's transaction; the body is phrased in the owner's zone when sent."""
    await jobs.enqueue(
        session,
        MAIL_OWNER,
        {
            "owner_id": str(owner_id),
            "template": template,
            "params": params,
            "message_id": f"<{uuid.uuid4()}@meetgraph>",
        },
        now=services.clock(),
        max_attempts=services.settings.mail_max_attempts,
    )


async def send_owner_mail(services: Services, payload: dict[str, Any]) -> None:
    async with services.sessionmaker() as session:
        owner = await session.get(User, uuid.UUID(payload["owner_id"]))
    if owner is None:
        return  # the owner was deleted meanwhile: nobody to tell
    subject, body = TEMPLATES[payload["template"]](owner, payload["params"])
    try:
        await services.mailer.send(to=owner.email, subject=subject, body=body, message_id=payload["message_id"])
    except MailRefused as exc:
        raise jobs.Permanent(str(exc)) from exc


KINDS = {MAIL_OWNER: jobs.JobKind(MAIL_OWNER, send_owner_mail)}


async def meeting_requested(
    session: AsyncSession, services: Services, owner_id: uuid.UUID, slug: str, start: datetime, contact: str
) -> None:
    await _mail_owner(
        session, services, owner_id, "meeting_requested", slug=slug, start=start.isoformat(), contact=contact
    )


async def booking_blocked(
    session: AsyncSession,
    services: Services,
    owner_id: uuid.UUID,
    slug: str,
    start: datetime,
    contact: str,
    calendars: list[str],
) -> None:
    await _mail_owner(
        session, services, owner_id, "booking_blocked", slug=slug, start=start.isoformat(), contact=contact,
        calendars=calendars,
    )  # fmt: skip


async def sync_failed(
    session: AsyncSession, services: Services, owner_id: uuid.UUID, start: datetime, contact: str, reason: str
) -> None:
    await _mail_owner(
        session, services, owner_id, "sync_failed", start=start.isoformat(), contact=contact, reason=reason
    )


async def connection_inactive(
    session: AsyncSession, services: Services, owner_id: uuid.UUID, email: str, reason: str
) -> None:
    """The owner's connection to `email` went INACTIVE for `reason` (an InactiveReason value)."""
    await _mail_owner(session, services, owner_id, "connection_inactive", email=email, reason=reason)
