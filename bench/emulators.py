"""The bench's emulators, in their own process (as real providers are): seeded, then served.

python -m bench.emulators PORT  -- serves Google, Microsoft and Exchange with one bench account each,
3 calendars x 1,000 busy events, and a control surface at <emulator>/_control.
"""

from __future__ import annotations

import os
import random
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.control import with_control
from emulators.exchange import create_exchange_emulator
from emulators.google import create_google_emulator
from emulators.microsoft import create_microsoft_emulator
from emulators.state import EmulatorState

EVENTS_PER_CALENDAR = int(os.environ.get("MEETGRAPH_BENCH_EVENTS", "1000"))
"""Busy events per calendar; MEETGRAPH_BENCH_EVENTS=100 measures calendars of a usual size."""
DAYS = 14
NOW = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)  # a Sunday night: the window starts Monday
KEPT_FREE = (NOW + timedelta(days=2, hours=10), NOW + timedelta(days=2, hours=11))
ACCOUNTS = {"GOOGLE": "bench@gmail.test", "OFFICE365": "bench@outlook.test", "EXCHANGE": "bench@exchange.test"}
BOOKING_ACCOUNT = "booker@gmail.test"
"""A Google account with an empty calendar: every slot of its page can be booked (bench/booking.py)."""


def seed(state: EmulatorState, email: str, rng: random.Random) -> None:
    """An account with 3 owned calendars, each holding 1,000 busy events spread over the window."""
    state.add_account(email, "Bench")
    account = state.account(email)
    assert account is not None
    calendars = [account.primary_calendar_id]
    calendars += [state.add_calendar(email, f"Availability {i}").id for i in (1, 2)]
    for calendar in calendars:
        added = 0
        while added < EVENTS_PER_CALENDAR:
            start = NOW + timedelta(minutes=rng.randrange(0, DAYS * 24 * 60, 5))
            end = start + timedelta(minutes=rng.choice((15, 30, 45, 60)))
            if start < KEPT_FREE[1] and end > KEPT_FREE[0]:
                continue  # keep one hour free so the booking benchmark has a slot to fight over
            state.add_event(calendar, start, end)
            added += 1


def request_kind(method: str, path: str, query: str) -> str:
    """What a provider request is, as the bench counts it: Google's events.list as a full read (no syncToken) or
    an incremental one, freeBusy (a live busy read), Graph's delta (full or incremental by its deltatoken),
    calendarView / getSchedule (live reads); anything else by its mount."""
    params = parse_qs(query)
    if path.startswith("/_emulators/google/calendar/v3/calendars/") and path.endswith("/events") and method == "GET":
        return "google events.list incremental" if "syncToken" in params else "google events.list full"
    if path.endswith("/calendar/v3/freeBusy"):
        return "google freeBusy"
    if path.startswith("/_emulators/microsoft") and "/delta" in path:
        return "microsoft delta incremental" if "$deltatoken" in params else "microsoft delta full"
    if path.startswith("/_emulators/microsoft") and path.endswith(("/calendarView", "/getSchedule")):
        return "microsoft live read"
    return " ".join(path.split("/")[2:3]) + " other"


class RequestCounter:
    """Counts the emulators' requests by kind (request_kind); read and reset at GET/DELETE /_bench/requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith("/_bench") and "/_control" not in path:
            kind = request_kind(scope["method"], path, scope["query_string"].decode())
            with self.lock:
                self.counts[kind] += 1
        await self.app(scope, receive, send)

    async def endpoint(self, request: Request) -> Response:
        with self.lock:
            counts = dict(self.counts)
            if request.method == "DELETE":
                self.counts.clear()
        return JSONResponse(counts)


def app() -> ASGIApp:
    rng = random.Random(7)
    states = {kind: EmulatorState(prefix) for kind, prefix in (("GOOGLE", "g"), ("OFFICE365", "m"), ("EXCHANGE", "x"))}
    for kind, state in states.items():
        seed(state, ACCOUNTS[kind], rng)
    states["GOOGLE"].add_account(BOOKING_ACCOUNT, "Booker")  # after the seeded one: still the default login
    counter = RequestCounter(Starlette())
    counter.app = Starlette(
        routes=[
            Route("/_bench/requests", counter.endpoint, methods=["GET", "DELETE"]),
            Mount("/_emulators/google", app=with_control(create_google_emulator(states["GOOGLE"]), states["GOOGLE"])),
            Mount(
                "/_emulators/microsoft",
                app=with_control(create_microsoft_emulator(states["OFFICE365"]), states["OFFICE365"]),
            ),
            Mount(
                "/_emulators/exchange",
                app=with_control(create_exchange_emulator(states["EXCHANGE"]), states["EXCHANGE"]),
            ),
        ]
    )
    return counter


if __name__ == "__main__":
    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
