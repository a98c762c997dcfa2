"""Google OAuth 2.0, OpenID Connect userinfo and Calendar API v3, served from the shared EmulatorState.

Paths are the real hosts' paths relative to the mount root (accounts.google.com `/o/oauth2/v2/auth`,
oauth2.googleapis.com `/token`, openidconnect.googleapis.com `/v1/userinfo`, www.googleapis.com
`/calendar/v3/...`), so the provider works against Google by changing only its base URLs.
`app.state.calls` counts requests per API method (`freebusy.query`, `calendarList.list`, ...).
The handlers are here; what goes over the wire (errors, resources, parsing, the OAuth dialect) is in
emulators/google_wire.py, the OAuth endpoints are emulators/oauth.py's.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.google_wire import (
    EVENT_ID_PATTERN,
    BadRequest,
    GoogleOAuth,
    api_error,
    attendee_emails,
    auth_error,
    calendar_list_entry,
    calendar_resource,
    event_resource,
    event_zone_name,
    fault_response,
    merged_busy,
    not_found,
    page_offset,
    page_token,
    parse_event_time,
    parse_rfc3339,
    parse_zone,
    rfc3339,
    userinfo_claims,
    userinfo_refused,
)
from emulators.lost_answer import deliver
from emulators.oauth import OAuthServer, bearer_token
from emulators.state import AccessRole, EmulatedCalendar, EmulatedEvent, EmulatorState

FREEBUSY_MAX_ITEMS = 50
FREEBUSY_MAX_RANGE = timedelta(days=90)
CALENDAR_LIST_DEFAULT_PAGE = 100
CALENDAR_LIST_MAX_PAGE = 250
WRITE_ROLES = frozenset({AccessRole.OWNER, AccessRole.WRITER})
READ_ROLES = frozenset({AccessRole.OWNER, AccessRole.WRITER, AccessRole.READER})

Handler = Callable[[Request, str], Awaitable[Response]]


class GoogleEmulator:
    """The request handlers; one instance per app, all data in the shared EmulatorState."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.calls: Counter[str] = Counter()

    # plumbing --------------------------------------------------------------
    def api(self, name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Count the call, apply faults, authenticate the bearer token, map BadRequest to 400."""

        async def endpoint(request: Request) -> Response:
            self.calls[name] += 1
            await self.state.faults.delay()
            failure = self.state.faults.take_failure()
            if failure:
                return fault_response(failure, self.state.faults.retry_after_seconds)
            email = self.bearer_owner(request)
            if email is None or self.state.account(email) is None:
                return auth_error()
            try:
                return await handler(request, email)
            except BadRequest as exc:
                return api_error(400, exc.reason, exc.message)

        return endpoint

    def bearer_owner(self, request: Request) -> str | None:
        token = bearer_token(request)
        return self.state.oauth.token_owner(token) if token else None

    def resolve(self, email: str, calendar_id: str) -> str:
        if calendar_id == "primary":
            account = self.state.account(email)
            return account.primary_calendar_id if account else calendar_id
        return calendar_id

    @staticmethod
    async def json_body(request: Request) -> dict[str, object]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise BadRequest("parseError", "Parse Error") from exc
        if not isinstance(body, dict):
            raise BadRequest("parseError", "Parse Error")
        return body

    def calendar_entry(self, calendar: EmulatedCalendar, role: AccessRole, email: str) -> dict[str, object]:
        account = self.state.account(email)
        primary = account is not None and calendar.id == account.primary_calendar_id
        return calendar_list_entry(calendar, role, primary=primary)

    def render_event(self, event: EmulatedEvent) -> dict[str, object]:
        return event_resource(event, self.state.calendars[event.calendar_id].owner_email)

    async def userinfo(self, request: Request) -> Response:
        self.calls["userinfo"] += 1
        await self.state.faults.delay()
        failure = self.state.faults.take_failure()
        if failure:
            return fault_response(failure, self.state.faults.retry_after_seconds)
        email = self.bearer_owner(request)
        account = self.state.account(email) if email else None
        if account is None:
            return userinfo_refused()
        return JSONResponse(userinfo_claims(account))

    # Calendar API ------------------------------------------------------------
    async def calendar_list(self, request: Request, email: str) -> Response:
        query = request.query_params
        try:
            size = int(query.get("maxResults", CALENDAR_LIST_DEFAULT_PAGE))
        except ValueError as exc:
            raise BadRequest("invalid", "Invalid value for maxResults") from exc
        if size < 1:
            raise BadRequest("invalid", "Invalid value for maxResults")
        size = min(size, CALENDAR_LIST_MAX_PAGE)
        offset = page_offset(query.get("pageToken"))
        visible = self.state.visible_calendars(email)
        page = visible[offset : offset + size]
        body: dict[str, object] = {
            "kind": "calendar#calendarList",
            "etag": f'"{len(visible)}"',
            "items": [self.calendar_entry(calendar, role, email) for calendar, role in page],
        }
        if offset + size < len(visible):
            body["nextPageToken"] = page_token(offset + size)
        else:
            body["nextSyncToken"] = page_token(len(visible))
        return JSONResponse(body)

    async def calendar_list_get(self, request: Request, email: str) -> Response:
        calendar_id = self.resolve(email, request.path_params["calendar_id"])
        role = self.state.role(email, calendar_id)
        if role is None:
            return not_found()
        return JSONResponse(self.calendar_entry(self.state.calendars[calendar_id], role, email))

    async def free_busy(self, request: Request, email: str) -> Response:
        body = await self.json_body(request)
        start = parse_rfc3339(body.get("timeMin"), "timeMin")
        end = parse_rfc3339(body.get("timeMax"), "timeMax")
        zone = parse_zone(body.get("timeZone"))
        items = body.get("items") or []
        if not isinstance(items, list):
            raise BadRequest("invalid", "Invalid value for items")
        if end <= start:
            raise BadRequest("timeRangeEmpty", "The specified time range is empty.")
        if end - start > FREEBUSY_MAX_RANGE:
            raise BadRequest("timeRangeTooLong", "The requested time range is too long.")
        if len(items) > FREEBUSY_MAX_ITEMS:
            raise BadRequest("tooManyCalendarsRequested", "The request is for too many calendars.")
        calendars: dict[str, object] = {}
        for item in items:
            requested = str(item.get("id", "")) if isinstance(item, dict) else ""
            calendar_id = self.resolve(email, requested)
            if self.state.role(email, calendar_id) is None:
                calendars[requested] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            spans = merged_busy(self.state.busy(calendar_id, start, end), start, end)
            calendars[requested] = {
                "busy": [{"start": rfc3339(lower, zone), "end": rfc3339(upper, zone)} for lower, upper in spans]
            }
        return JSONResponse(
            {
                "kind": "calendar#freeBusy",
                "timeMin": rfc3339(start, zone),
                "timeMax": rfc3339(end, zone),
                "calendars": calendars,
            }
        )

    async def calendars_insert(self, request: Request, email: str) -> Response:
        body = await self.json_body(request)
        summary = body.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise BadRequest("required", "Missing title.")
        calendar = self.state.add_calendar(
            email, summary, calendar_id=f"{self.state.new_id('cal')}@group.calendar.google.com"
        )
        return JSONResponse(calendar_resource(calendar))

    async def calendars_get(self, request: Request, email: str) -> Response:
        calendar_id = self.resolve(email, request.path_params["calendar_id"])
        if self.state.role(email, calendar_id) is None:
            return not_found()
        return JSONResponse(calendar_resource(self.state.calendars[calendar_id]))

    def calendar_for(self, request: Request, email: str, roles: frozenset[AccessRole]) -> EmulatedCalendar | Response:
        """The path's calendar if the account holds one of `roles`, else Google's 404 / 403."""
        calendar_id = self.resolve(email, request.path_params["calendar_id"])
        role = self.state.role(email, calendar_id)
        if role is None:
            return not_found()
        if role not in roles:
            level = "writer" if roles == WRITE_ROLES else "reader"
            return api_error(403, "requiredAccessLevel", f"You need to have {level} access to this calendar.")
        return self.state.calendars[calendar_id]

    def event_for(self, request: Request, email: str, roles: frozenset[AccessRole]) -> EmulatedEvent | Response:
        calendar = self.calendar_for(request, email, roles)
        if isinstance(calendar, Response):
            return calendar
        event = calendar.events.get(request.path_params["event_id"])
        return event if event is not None else not_found()

    async def events_list(self, request: Request, email: str) -> Response:
        calendar = self.calendar_for(request, email, READ_ROLES)
        if isinstance(calendar, Response):
            return calendar
        query = request.query_params
        start = parse_rfc3339(query["timeMin"], "timeMin") if "timeMin" in query else None
        end = parse_rfc3339(query["timeMax"], "timeMax") if "timeMax" in query else None
        show_deleted = query.get("showDeleted") == "true"
        events = sorted(
            (
                e
                for e in calendar.events.values()
                if (show_deleted or not e.cancelled)
                and (start is None or e.end > start)
                and (end is None or e.start < end)
            ),
            key=lambda e: e.start,
        )
        return JSONResponse(
            {
                "kind": "calendar#events",
                "summary": calendar.name,
                "timeZone": "UTC",
                "accessRole": (self.state.role(email, calendar.id) or AccessRole.READER).value,
                "items": [self.render_event(e) for e in events],
            }
        )

    async def events_insert(self, request: Request, email: str) -> Response:
        """A client-chosen `id` must be base32hex (a-v, 0-9), 5-1024 characters, and new to the calendar: an id
        already used, also by a deleted (cancelled) event, is 409 duplicate."""
        calendar = self.calendar_for(request, email, WRITE_ROLES)
        if isinstance(calendar, Response):
            return calendar
        body = await self.json_body(request)
        await self.state.faults.hold_create()  # the request is in: the client may die now, the event is stored
        start = parse_event_time(body.get("start"), "start")
        end = parse_event_time(body.get("end"), "end")
        if end <= start:
            raise BadRequest("timeRangeEmpty", "The specified time range is empty.")
        wanted_id = body.get("id")
        if wanted_id is not None and (not isinstance(wanted_id, str) or not EVENT_ID_PATTERN.fullmatch(wanted_id)):
            raise BadRequest("invalid", "Invalid resource id value.")
        with self.state.lock:
            if wanted_id is not None and wanted_id in calendar.events:
                return api_error(409, "duplicate", "The requested identifier already exists.")
            event = self.state.add_event(
                calendar.id,
                start,
                end,
                str(body.get("summary") or ""),
                attendees=attendee_emails(body.get("attendees")),
                description=str(body["description"]) if body.get("description") is not None else None,
                busy=body.get("transparency") != "transparent",
                invitations_sent=request.query_params.get("sendUpdates") == "all",
                event_id=wanted_id,
                timezone=event_zone_name(body.get("start")),
            )
        unavailable = functools.partial(fault_response, 503, self.state.faults.retry_after_seconds)
        return await deliver(self.state, JSONResponse(self.render_event(event)), unavailable)

    async def events_get(self, request: Request, email: str) -> Response:
        event = self.event_for(request, email, READ_ROLES)
        if isinstance(event, Response):
            return event
        return JSONResponse(self.render_event(event))

    async def events_update(self, request: Request, email: str) -> Response:
        """events.update (PUT) replaces the event: what the body leaves out is cleared."""
        event = self.event_for(request, email, WRITE_ROLES)
        if isinstance(event, Response):
            return event
        body = await self.json_body(request)
        if "start" not in body or "end" not in body:
            raise BadRequest("required", "Missing end time." if "start" in body else "Missing start time.")
        full = {"summary": "", "description": None, "attendees": [], "transparency": "opaque", **body}
        return await self.patch(request, event, full)

    async def events_patch(self, request: Request, email: str) -> Response:
        event = self.event_for(request, email, WRITE_ROLES)
        if isinstance(event, Response):
            return event
        return await self.patch(request, event, await self.json_body(request))

    async def patch(self, request: Request, event: EmulatedEvent, body: dict[str, object]) -> Response:
        start = parse_event_time(body["start"], "start") if "start" in body else event.start
        end = parse_event_time(body["end"], "end") if "end" in body else event.end
        if end <= start:
            raise BadRequest("timeRangeEmpty", "The specified time range is empty.")
        zone = event_zone_name(body["start"]) if "start" in body else event.timezone
        with self.state.lock:
            event.start, event.end, event.timezone = start, end, zone
            if "summary" in body:
                event.summary = str(body.get("summary") or "")
            if "description" in body:
                event.description = str(body["description"]) if body["description"] is not None else None
            if "attendees" in body:
                event.attendees = attendee_emails(body.get("attendees"))
            if "transparency" in body:
                event.busy = body.get("transparency") != "transparent"
            if body.get("status") == "cancelled":
                event.cancelled = True
            if request.query_params.get("sendUpdates") == "all":
                event.invitations_sent = True
                if event.attendees:
                    event.updates_sent += 1
        return JSONResponse(self.render_event(event))

    async def events_delete(self, request: Request, email: str) -> Response:
        event = self.event_for(request, email, WRITE_ROLES)
        if isinstance(event, Response):
            return event
        if event.cancelled:
            return api_error(410, "deleted", "Resource has been deleted")
        with self.state.lock:
            event.cancelled = True
            if request.query_params.get("sendUpdates") == "all":
                event.invitations_sent = True
        return Response(status_code=204)


def create_google_emulator(
    state: EmulatorState,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uris: Collection[str] | None = None,
) -> Starlette:
    """The Google emulator app; client id/secret and redirect URIs are only checked when given."""
    emulator = GoogleEmulator(state)
    oauth = OAuthServer(
        state,
        GoogleOAuth(),
        emulator.calls,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uris=redirect_uris,
    )
    api = emulator.api
    calendar = "/calendar/v3/calendars/{calendar_id}"
    event = f"{calendar}/events/{{event_id}}"
    routes = [
        *oauth.routes(),
        Route("/v1/userinfo", emulator.userinfo, methods=["GET", "POST"]),
        Route(
            "/calendar/v3/users/me/calendarList",
            api("calendarList.list", emulator.calendar_list),
            methods=["GET"],
        ),
        Route(
            "/calendar/v3/users/me/calendarList/{calendar_id}",
            api("calendarList.get", emulator.calendar_list_get),
            methods=["GET"],
        ),
        Route("/calendar/v3/freeBusy", api("freebusy.query", emulator.free_busy), methods=["POST"]),
        Route("/calendar/v3/calendars", api("calendars.insert", emulator.calendars_insert), methods=["POST"]),
        Route(calendar, api("calendars.get", emulator.calendars_get), methods=["GET"]),
        Route(f"{calendar}/events", api("events.list", emulator.events_list), methods=["GET"]),
        Route(f"{calendar}/events", api("events.insert", emulator.events_insert), methods=["POST"]),
        Route(event, api("events.get", emulator.events_get), methods=["GET"]),
        Route(event, api("events.patch", emulator.events_patch), methods=["PATCH"]),
        Route(event, api("events.update", emulator.events_update), methods=["PUT"]),
        Route(event, api("events.delete", emulator.events_delete), methods=["DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.calls = emulator.calls
    app.state.emulator = emulator
    return app
