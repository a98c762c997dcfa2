"""The helpers tests and the control surface use are the same for the three emulators."""

from __future__ import annotations

import base64

import httpx
import pytest
from starlette.applications import Starlette

from emulators.exchange import create_exchange_emulator
from emulators.google import create_google_emulator
from emulators.microsoft import create_microsoft_emulator
from emulators.state import AccessRole, EmulatorState

OWNER = "owner@example.test"
COLLEAGUE = "colleague@example.test"


def test_add_share_takes_the_account_then_the_calendar_then_the_role() -> None:
    # given
    state = EmulatorState("t")
    state.add_account(OWNER, "Owner")
    colleague = state.add_account(COLLEAGUE, "Colleague")
    # when
    state.add_share(OWNER, colleague.primary_calendar_id, AccessRole.READER)
    state.lose_access(OWNER, colleague.primary_calendar_id)
    state.restore_access(OWNER, colleague.primary_calendar_id)
    # then
    assert state.role(OWNER, colleague.primary_calendar_id) is AccessRole.READER
    assert state.role(COLLEAGUE, colleague.primary_calendar_id) is AccessRole.OWNER


def test_a_role_given_in_its_wire_spelling_is_stored_as_the_emulators_own() -> None:
    # given
    state = EmulatorState("t")
    state.add_account(OWNER, "Owner")
    calendar = state.add_calendar(COLLEAGUE, "Theirs")
    # when
    state.add_share(OWNER, calendar.id, "freeBusyReader")  # type: ignore[arg-type]
    # then
    assert state.role(OWNER, calendar.id) is AccessRole.FREE_BUSY


@pytest.mark.parametrize(
    ("create", "method", "path", "counted"),
    [
        (create_google_emulator, "GET", "/calendar/v3/users/me/calendarList", "calendarList.list"),
        (create_microsoft_emulator, "GET", "/v1.0/me/calendars", "calendars.list"),
        (create_exchange_emulator, "POST", "/autodiscover/autodiscover.svc", "autodiscover"),
    ],
)
async def test_every_emulator_counts_its_requests_in_app_state_calls(
    create: object, method: str, path: str, counted: str
) -> None:
    # given
    state = EmulatorState("t")
    account = state.add_account(OWNER, "Owner")
    app: Starlette = create(state)  # type: ignore[operator]
    access = state.oauth.issue_tokens(OWNER).access_token
    headers = {"Authorization": f"Bearer {access}"}
    if method == "POST":
        basic = base64.b64encode(f"{OWNER}:{account.password}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
    # when
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu") as http:
        await http.request(method, path, headers=headers)
    # then
    assert app.state.calls[counted] == 1
