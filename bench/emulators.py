"""The bench's emulators, in their own process (as real providers are): seeded, then served.

python -m bench.emulators PORT  -- serves Google, Microsoft and Exchange with one bench account each,
3 calendars x 1,000 busy events, and a control surface at <emulator>/_control.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

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


def app() -> Starlette:
    rng = random.Random(7)
    states = {kind: EmulatorState(prefix) for kind, prefix in (("GOOGLE", "g"), ("OFFICE365", "m"), ("EXCHANGE", "x"))}
    for kind, state in states.items():
        seed(state, ACCOUNTS[kind], rng)
    states["GOOGLE"].add_account(BOOKING_ACCOUNT, "Booker")  # after the seeded one: still the default login
    return Starlette(
        routes=[
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


if __name__ == "__main__":
    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
