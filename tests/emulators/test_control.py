"""The emulators' HTTP control surface, as used with `meetgraph emulate` / `serve --emulators`."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from emulators.mount import DEMO_GOOGLE, emulator_mounts


def _client() -> httpx.AsyncClient:
    app = Starlette(routes=emulator_mounts())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emu")


async def test_faults_can_be_read_and_injected() -> None:
    async with _client() as http:
        # when
        set_ = await http.post(
            "/_emulators/google/_control/faults",
            json={"latency_seconds": 0.25, "fail_next": [429, 503], "revoked": True},
        )
        # then
        assert set_.json()["fail_next"] == [429, 503] and set_.json()["revoked"] is True
        got = await http.get("/_emulators/google/_control/faults")
        assert got.json()["latency_seconds"] == 0.25
        bad = await http.post("/_emulators/google/_control/faults", json={"fail_next": ["x"]})
        assert bad.status_code == 400


async def test_access_can_be_lost_and_busy_time_added() -> None:
    async with _client() as http:
        # given
        (account,) = [
            a for a in (await http.get("/_emulators/google/_control/accounts")).json() if a["email"] == DEMO_GOOGLE
        ]
        shared = next(c["id"] for c in account["calendars"] if c["role"] == "reader")
        # when
        lost = await http.post("/_emulators/google/_control/access", json={"email": DEMO_GOOGLE, "calendar_id": shared})
        added = await http.post(
            "/_emulators/google/_control/events",
            json={"calendar_id": shared, "start": "2026-12-07T09:00:00+00:00", "end": "2026-12-07T10:00:00+00:00"},
        )
        # then
        assert lost.json()["lost"] is True and added.status_code == 201
        (after,) = [
            a for a in (await http.get("/_emulators/google/_control/accounts")).json() if a["email"] == DEMO_GOOGLE
        ]
        assert next(c for c in after["calendars"] if c["id"] == shared)["lost"] is True
        naive = await http.post(
            "/_emulators/google/_control/events",
            json={"calendar_id": shared, "start": "2026-12-07T09:00", "end": "2026-12-07T10:00"},
        )
        assert naive.status_code == 400


async def test_the_emulators_still_serve_their_real_paths_beside_control() -> None:
    async with _client() as http:
        response = await http.get("/_emulators/google/calendar/v3/users/me/calendarList")
        assert response.status_code == 401


async def test_the_next_create_can_be_made_to_lose_its_answer_and_events_counted() -> None:
    async with _client() as http:
        # given
        (account,) = [
            a for a in (await http.get("/_emulators/google/_control/accounts")).json() if a["email"] == DEMO_GOOGLE
        ]
        primary = account["calendars"][0]["id"]
        before = await http.get("/_emulators/google/_control/events", params={"calendar_id": primary})
        # when
        armed = await http.post(
            "/_emulators/google/_control/faults", json={"lose_next_create": "503", "lost_answer_delay_seconds": 0.5}
        )
        refused = await http.post("/_emulators/google/_control/faults", json={"lose_next_create": "sometimes"})
        await http.post(
            "/_emulators/google/_control/events",
            json={"calendar_id": primary, "start": "2026-12-07T09:00:00+00:00", "end": "2026-12-07T10:00:00+00:00"},
        )
        after = await http.get("/_emulators/google/_control/events", params={"calendar_id": primary})
        unknown = await http.get("/_emulators/google/_control/events", params={"calendar_id": "nope"})
        # then
        assert armed.json()["lose_next_create"] == "503" and armed.json()["lost_answer_delay_seconds"] == 0.5
        assert refused.status_code == 400
        assert after.json()["count"] == before.json()["count"] + 1
        assert unknown.status_code == 400


async def test_creates_can_be_held_and_released() -> None:
    async with _client() as http:
        # when
        held = await http.post("/_emulators/google/_control/faults", json={"hold_creates": True})
        released = await http.post("/_emulators/google/_control/faults", json={"hold_creates": False})
        # then
        assert (held.json()["hold_creates"], held.json()["creates_held"]) == (True, 0)
        assert released.json()["hold_creates"] is False


async def test_a_calendar_can_be_named_as_the_meetgraph_api_shows_it() -> None:
    async with _client() as http:
        # given: "Team events" is the demo account's; the colleague's calendars are shared with it
        control = "/_emulators/google/_control"
        (account,) = [a for a in (await http.get(f"{control}/accounts")).json() if a["email"] == DEMO_GOOGLE]
        team = next(c["id"] for c in account["calendars"] if c["name"] == "Team events")
        # when
        added = await http.post(
            f"{control}/events",
            json={"calendar": "Team events", "start": "2026-12-07T09:00:00+00:00", "end": "2026-12-07T10:00:00+00:00"},
        )
        counted = await http.get(f"{control}/events", params={"calendar": "Team events", "email": DEMO_GOOGLE})
        lost = await http.post(f"{control}/access", json={"email": DEMO_GOOGLE, "calendar": "Team events"})
        unknown = await http.post(f"{control}/access", json={"email": DEMO_GOOGLE, "calendar": "Nope"})
        # then
        assert added.status_code == 201
        assert counted.json()["calendar_id"] == team and counted.json()["count"] == 1
        assert lost.json() == {"email": DEMO_GOOGLE, "calendar_id": team, "lost": True}
        assert unknown.status_code == 400 and "calendar" in unknown.json()["error"]
