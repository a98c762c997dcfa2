"""Provider calendars as the emulators hold them: which world, which account, which events (read, not changed)."""

from __future__ import annotations

from emulators.state import EmulatedEvent, EmulatorState
from tests.utils.emulators import EXCHANGE_USER, GOOGLE_USER, MICROSOFT_USER, World

ACCOUNTS = {"GOOGLE": GOOGLE_USER, "OFFICE365": MICROSOFT_USER, "EXCHANGE": EXCHANGE_USER}
"""The world's account of each provider, by the API's CalendarProvider name."""


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
    return state.live_events(calendar_id)


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
