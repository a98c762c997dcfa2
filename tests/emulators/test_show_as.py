"""EmulatedEvent.show_as is the free/busy status every emulator renders; `busy` follows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from emulators.google_wire import event_resource
from emulators.state import EmulatorState

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def state() -> EmulatorState:
    state = EmulatorState("t")
    state.add_account("owner@example.test")
    return state


def primary(state: EmulatorState) -> str:
    return state.accounts["owner@example.test"].primary_calendar_id


@pytest.mark.parametrize(
    ("show_as", "busy"),
    [
        ("free", False),
        ("tentative", True),
        ("busy", True),
        ("oof", True),
        ("workingElsewhere", False),
        ("unknown", True),
    ],
)
def test_a_status_decides_busy(state: EmulatorState, show_as: str, busy: bool) -> None:
    # when
    event = state.add_event(primary(state), T0, T0 + timedelta(hours=1), show_as=show_as)
    # then
    assert (event.busy, event.status) == (busy, show_as)
    assert bool(state.busy(primary(state), T0, T0 + timedelta(days=1))) is busy


def test_without_a_status_busy_decides_and_a_contradicting_busy_clears_it(state: EmulatorState) -> None:
    # given
    plain = state.add_event(primary(state), T0, T0 + timedelta(hours=1), busy=False)
    tentative = state.add_event(primary(state), T0, T0 + timedelta(hours=1), show_as="tentative")
    # when
    tentative.busy = False
    # then
    assert plain.status == "free"
    assert (tentative.show_as, tentative.status) == (None, "free")


def test_an_unknown_status_is_refused(state: EmulatorState) -> None:
    with pytest.raises(ValueError, match="show_as"):
        state.add_event(primary(state), T0, T0 + timedelta(hours=1), show_as="away")


@pytest.mark.parametrize(
    ("show_as", "stored"),
    [
        ("free", {"eventType": "default", "transparency": "transparent"}),
        ("tentative", {"eventType": "default", "transparency": None}),
        ("oof", {"eventType": "outOfOffice", "transparency": None}),
        ("workingElsewhere", {"eventType": "workingLocation", "transparency": "transparent"}),
    ],
)
def test_google_stores_a_status_as_transparency_and_event_type(
    state: EmulatorState, show_as: str, stored: dict[str, str | None]
) -> None:
    # given
    event = state.add_event(primary(state), T0, T0 + timedelta(hours=1), show_as=show_as)
    # when
    resource = event_resource(event, "owner@example.test")
    # then
    assert {key: resource.get(key) for key in ("eventType", "transparency")} == stored
