"""Helpers for the pages, booking and subscription tests: pages, connections, bookings, mail, outages."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.state import EmulatedEvent, EmulatorState
from tests.utils.emulators import (
    EXCHANGE_PASSWORD,
    EXCHANGE_USER,
    GOOGLE_USER,
    MICROSOFT_USER,
    World,
)
from tests.utils.flows import CONNECT_EXCHANGE, connect_oauth
from tests.utils.graphql import GraphQLClient

PAGE_FIELDS = """id name slug durationMinutes timezone url active offline bufferMinutes minimumNoticeMinutes
  weeklyHours { weekday start end }"""

CREATE_PAGE = f"""
mutation($input: SchedulingPageInput!) {{ createSchedulingPage(input: $input) {{
  __typename
  ... on SchedulingPageSuccess {{ page {{ {PAGE_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""

MEETING_FIELDS = "id start end status contactEmail contactName title syncState pageId"

BOOK = f"""
mutation($input: BookMeetingInput!) {{ bookMeeting(input: $input) {{
  __typename
  ... on BookMeetingSuccess {{ meeting {{ {MEETING_FIELDS} }} }}
  ... on ValidationError {{ field }}
  ... on Error {{ message }} }} }}
"""

MY_MEETINGS = f"{{ me {{ meetings {{ {MEETING_FIELDS} }} }} }}"

MY_CALENDARS = "{ me { calendarConnections { id provider calendars { id name isPrimary status } } } }"

SAVE_SETTINGS = """
mutation($input: CalendarSettingsInput!) { saveCalendarSettings(input: $input) {
  __typename ... on ValidationError { field } ... on Error { message } } }
"""

CONTACT_EMAIL = "carla@example.com"
CONTACT_NAME = "Carla Contact"

ACCOUNTS = {"GOOGLE": GOOGLE_USER, "OFFICE365": MICROSOFT_USER, "EXCHANGE": EXCHANGE_USER}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def create_page(gql: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    """A scheduling page through createSchedulingPage; `fields` are SchedulingPageInput fields."""
    data = await gql(CREATE_PAGE, {"input": {"name": "Intro call", **fields}}, token)
    result = data["createSchedulingPage"]
    assert result["__typename"] == "SchedulingPageSuccess", result
    page: dict[str, Any] = result["page"]
    return page


async def connect(gql: GraphQLClient, http: httpx.AsyncClient, token: str, provider: str) -> None:
    """Connect the world's account of `provider`; Exchange also gets scheduling pages switched on."""
    if provider == "EXCHANGE":
        data = await gql(CONNECT_EXCHANGE, {"input": {"email": EXCHANGE_USER, "password": EXCHANGE_PASSWORD}}, token)
        assert data["connectExchangeCalendar"]["__typename"] == "ConnectCalendarSuccess", data
        await save_settings(gql, token, schedulingPagesEnabled=True)
        return
    outcome = await connect_oauth(gql, http, token, provider)
    assert "connected" in outcome, outcome


async def save_settings(gql: GraphQLClient, token: str, **fields: Any) -> None:
    data = await gql(SAVE_SETTINGS, {"input": fields}, token)
    assert data["saveCalendarSettings"]["__typename"] == "CalendarSettingsSuccess", data


async def calendar_ids(gql: GraphQLClient, token: str) -> dict[str, str]:
    """The caller's calendars by name -> API id."""
    data = await gql(MY_CALENDARS, token=token)
    return {c["name"]: c["id"] for conn in data["me"]["calendarConnections"] for c in conn["calendars"]}


async def book(
    gql: GraphQLClient,
    slug: str,
    start: datetime,
    *,
    email: str = CONTACT_EMAIL,
    name: str = CONTACT_NAME,
    domain: str | None = None,
) -> dict[str, Any]:
    """bookMeeting as an anonymous visitor; returns the result union."""
    data = await gql(
        BOOK,
        {"input": {"slug": slug, "start": iso(start), "contactEmail": email, "contactName": name, "domain": domain}},
    )
    result: dict[str, Any] = data["bookMeeting"]
    return result


async def my_meetings(gql: GraphQLClient, token: str) -> list[dict[str, Any]]:
    data = await gql(MY_MEETINGS, token=token)
    found: list[dict[str, Any]] = data["me"]["meetings"]
    return found


def state_of(world: World, provider: str) -> EmulatorState:
    return {"GOOGLE": world.google, "OFFICE365": world.microsoft, "EXCHANGE": world.exchange}[provider]


def primary_id(state: EmulatorState, email: str) -> str:
    account = state.account(email)
    assert account is not None
    return account.primary_calendar_id


def calendar_named(state: EmulatorState, name: str) -> str:
    """The emulator id of the calendar called `name` (seed_demo names are unique per world)."""
    (found,) = [c.id for c in state.calendars.values() if c.name == name]
    return found


def live_events(state: EmulatorState, calendar_id: str) -> list[EmulatedEvent]:
    """Events of a calendar that are not cancelled."""
    with state.lock:
        return [e for e in state.calendars[calendar_id].events.values() if not e.cancelled]


def events_everywhere_but(state: EmulatorState, calendar_id: str) -> list[EmulatedEvent]:
    """Live events created through the API in every other calendar (seeded busy events are named 'Busy')."""
    with state.lock:
        return [
            e
            for c in state.calendars.values()
            if c.id != calendar_id
            for e in c.events.values()
            if not e.cancelled and e.summary != "Busy"
        ]


# mail ---------------------------------------------------------------------------------------------
@dataclass
class Mailbox:
    """Mails received by a real SMTP server on loopback (aiosmtpd, in its own thread)."""

    url: str = ""
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.lock:
            self.messages.append(message_from_bytes(raw))
        return "250 Message accepted for delivery"

    def received(self) -> list[Message]:
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.received() if m["To"] == address]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{port}"
    try:
        yield mailbox
    finally:
        controller.stop()


# outages ------------------------------------------------------------------------------------------
class EventInsertOutage:
    """Wraps an emulator app: while `active`, creating an event answers the emulator's own 500.

    Other calls (free/busy, listing) are served normally, so a booking passes its busy check and only
    the calendar write fails.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state
        self.active = True
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.active and scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/events"):
            with self.state.lock:
                self.state.faults.fail_next.insert(0, 500)
            self.refused += 1
        await self.app(scope, receive, send)
