"""An HTTP control surface for an emulator: inject faults, lose or restore access, add busy time.

Mounted at `<emulator>/_control` by `meetgraph emulate` and `meetgraph serve --emulators`, e.g.
`curl -X POST .../_emulators/google/_control/faults -d '{"latency_seconds": 0.1, "fail_next": [429]}'`.
`{"lose_next_create": "timeout" | "disconnect" | "503"}` makes the next event create succeed on the server and lose
its answer; `GET .../_control/events?calendar_id=...` counts a calendar's live (not cancelled) events.
Wherever a calendar is named, `"calendar": "<its name>"` (with `"email"` when several share it) may stand
for `"calendar_id"`: the meetgraph API shows calendars' names, and ids of its own.
`GET .../_control/accounts` lists each account's calendars, its refused logins and whether it is locked out
(Exchange). `{"hold_creates": true}` keeps event creates waiting before they are stored (`creates_held` counts them) until
`{"hold_creates": false}`: a write in flight, e.g. while a test kills the client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from emulators.state import LOST_ANSWER_MODES, EmulatorState

FAULT_FIELDS = {
    "latency_seconds": float,
    "retry_after_seconds": int,
    "revoked": bool,
    "lost_answer_delay_seconds": float,
    "hold_creates": bool,
}


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


def _calendar_id(state: EmulatorState, given: Mapping[str, Any]) -> str | None:
    """The calendar `calendar_id` names, or the one called `calendar` (the name the meetgraph API shows; the
    API's ids are its own), among the calendars `email` has when given. None when unknown or ambiguous."""
    if "calendar_id" in given:
        calendar_id = str(given["calendar_id"])
        return calendar_id if calendar_id in state.calendars else None
    name = given.get("calendar")
    account = state.account(str(given["email"])) if "email" in given else None
    candidates = account.access if account is not None else state.calendars
    found = [cid for cid in candidates if cid in state.calendars and state.calendars[cid].name == name]
    return found[0] if len(found) == 1 else None


UNKNOWN_CALENDAR = (
    "unknown calendar: give calendar_id (see /accounts) or calendar, its name (with email if several share it)"
)


def control_app(state: EmulatorState, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    async def faults(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            if not isinstance(body, dict):
                return _bad("send a JSON object")
            for name, kind in FAULT_FIELDS.items():
                if name in body:
                    setattr(state.faults, name, kind(body[name]))
            if "fail_next" in body:
                if not all(isinstance(code, int) for code in body["fail_next"]):
                    return _bad("fail_next is a list of HTTP status codes")
                state.faults.fail_next = list(body["fail_next"])
            if "lose_next_create" in body:
                if body["lose_next_create"] not in (*LOST_ANSWER_MODES, None):
                    return _bad(f"lose_next_create is one of {', '.join(LOST_ANSWER_MODES)} (or null)")
                state.faults.lose_next_create = body["lose_next_create"]
        f = state.faults
        return JSONResponse(
            {
                "latency_seconds": f.latency_seconds,
                "fail_next": f.fail_next,
                "retry_after_seconds": f.retry_after_seconds,
                "revoked": f.revoked,
                "api_calls": f.api_calls,
                "lose_next_create": f.lose_next_create,
                "lost_answer_delay_seconds": f.lost_answer_delay_seconds,
                "hold_creates": f.hold_creates,
                "creates_held": f.creates_held,
            }
        )

    async def accounts(_: Request) -> Response:
        return JSONResponse(
            [
                {
                    "email": a.email,
                    "refused_logins": a.refused_logins,
                    "locked_out": a.locked_out(state.clock()),
                    "calendars": [
                        {"id": cid, "name": state.calendars[cid].name, "role": role.value, "lost": cid in a.lost}
                        for cid, role in a.access.items()
                        if cid in state.calendars
                    ],
                }
                for a in state.accounts.values()
            ]
        )

    async def access(request: Request) -> Response:
        body = await request.json()
        email, calendar_id = body.get("email", ""), _calendar_id(state, body)
        if state.account(email) is None or calendar_id is None:
            return _bad(f"unknown email or {UNKNOWN_CALENDAR}")
        if body.get("lost", True):
            state.lose_access(email, calendar_id)
        else:
            state.restore_access(email, calendar_id)
        return JSONResponse({"email": email, "calendar_id": calendar_id, "lost": bool(body.get("lost", True))})

    async def events(request: Request) -> Response:
        if request.method == "GET":
            calendar_id = _calendar_id(state, request.query_params)
            if calendar_id is None:
                return _bad(UNKNOWN_CALENDAR)
            live = state.live_events(calendar_id)
            return JSONResponse({"calendar_id": calendar_id, "count": len(live), "ids": [e.id for e in live]})
        body = await request.json()
        calendar_id = _calendar_id(state, body)
        if calendar_id is None:
            return _bad(UNKNOWN_CALENDAR)
        try:
            start, end = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
        except (KeyError, ValueError):
            return _bad("start and end are ISO 8601 datetimes with an offset")
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            return _bad("start and end need offsets, end after start")
        event = state.add_event(calendar_id, start, end, str(body.get("summary", "Busy")))
        return JSONResponse({"id": event.id}, status_code=201)

    return Starlette(
        routes=[
            Route("/faults", faults, methods=["GET", "POST"]),
            Route("/accounts", accounts),
            Route("/access", access, methods=["POST"]),
            Route("/events", events, methods=["GET", "POST"]),
            *extra_routes,
        ]
    )


def with_control(app: ASGIApp, state: EmulatorState) -> Starlette:
    """`app` with its control surface mounted at /_control, and the emulator's own control routes if it has some
    (`app.state.control_routes`: the Office 365 emulator's subscriptions and lifecycle notifications)."""
    extra: Sequence[BaseRoute] = getattr(getattr(app, "state", None), "control_routes", ())
    return Starlette(routes=[Mount("/_control", app=control_app(state, extra)), Mount("/", app=app)])
