"""Office 365 emulator: Microsoft identity platform v2 (authorize, token) and Microsoft Graph v1.0 calendars.

Paths are relative to the mount root and mirror the real hosts: `/{tenant}/oauth2/v2.0/...` as on
login.microsoftonline.com and `/v1.0/...` as on graph.microsoft.com. Shares present themselves as in Graph:
a shared calendar is listed in the recipient's /me/calendars with `canShare`/`canViewPrivateItems` false,
`canEdit` only for write shares and `owner` naming the sharer; only the owner sees calendarPermissions
(roles freeBusyRead / read / write), a recipient gets an empty collection; a free/busy-only share refuses to
read events (403 ErrorAccessDenied) and is answered only through getSchedule; a lost calendar disappears
from the list and answers 404 ErrorItemNotFound.

The handlers are here; what goes over the wire (errors, dateTimeTimeZone, OData, resources, the OAuth
dialect) is in emulators/microsoft_wire.py, the OAuth endpoints are emulators/oauth.py's.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.lost_answer import deliver
from emulators.microsoft_wire import (
    AUTH_CHALLENGE,
    FAULT_ERRORS,
    PERMISSION_ROLES,
    SCHEDULE_STATUSES,
    GraphError,
    MicrosoftOAuth,
    ShownZone,
    availability_view,
    calendar_resource,
    event_properties,
    event_renderer,
    event_time_zone,
    graph_datetime,
    graph_error_response,
    lower_keys,
    odata_collection,
    odata_context,
    odata_select,
    parse_attendees,
    parse_date_time_time_zone,
    parse_description,
    parse_query_datetime,
    preferred_time_zone,
)
from emulators.oauth import OAuthServer, bearer_token
from emulators.state import AccessRole, EmulatedAccount, EmulatedCalendar, EmulatedEvent, EmulatorState

SCHEDULE_MAX_MAILBOXES = 20
SCHEDULE_MAX_DAYS = 62
TRANSACTION_ID = "transactionId"
PERSONAL_SCHEDULE_ERROR = (
    "ErrorInvalidRequest",
    "The GetSchedule operation is not supported for personal Microsoft accounts (MSA).",
)
"""The answer to getSchedule from a personal account: the reference lists no permission that allows it for them."""

Handler = Callable[[Request, EmulatedAccount], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class _MicrosoftEmulator:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.calls: Counter[str] = Counter()
        self.event_properties = event_properties(self._organizer)

    def routes(self) -> list[Route]:
        return [
            Route("/v1.0/me", self.api("me", self.me), methods=["GET"]),
            Route("/v1.0/me/calendars", self.api("calendars.list", self.list_calendars), methods=["GET"]),
            Route("/v1.0/me/calendars", self.api("calendars.create", self.create_calendar), methods=["POST"]),
            Route("/v1.0/me/calendar", self.api("calendar.get", self.default_calendar), methods=["GET"]),
            Route("/v1.0/me/calendar/getSchedule", self.api("getSchedule", self.get_schedule), methods=["POST"]),
            Route(
                "/v1.0/me/calendars/{calendar_id}/getSchedule",
                self.api("getSchedule", self.get_schedule),
                methods=["POST"],
            ),
            Route("/v1.0/me/calendars/{calendar_id}", self.api("calendar.get", self.get_calendar), methods=["GET"]),
            Route(
                "/v1.0/me/calendars/{calendar_id}/calendarPermissions",
                self.api("calendarPermissions", self.calendar_permissions),
                methods=["GET"],
            ),
            Route(
                "/v1.0/me/calendars/{calendar_id}/calendarView",
                self.api("calendarView", self.calendar_view),
                methods=["GET"],
            ),
            Route(
                "/v1.0/me/calendars/{calendar_id}/events",
                self.api("events.list", self.list_events),
                methods=["GET"],
            ),
            Route(
                "/v1.0/me/calendars/{calendar_id}/events",
                self.api("events.create", self.create_event),
                methods=["POST"],
            ),
            Route("/v1.0/me/events/{event_id}", self.api("event.get", self.get_event), methods=["GET"]),
            Route("/v1.0/me/events/{event_id}", self.api("event.update", self.update_event), methods=["PATCH"]),
            Route("/v1.0/me/events/{event_id}", self.api("event.delete", self.delete_event), methods=["DELETE"]),
            Route("/v1.0/users/{user}/calendar", self.api("users.calendar", self.user_calendar), methods=["GET"]),
        ]

    # plumbing ----------------------------------------------------------------
    def api(self, name: str, handler: Handler) -> Endpoint:
        """Wrap a Graph handler: count the call, apply latency/failures, authenticate, render errors."""

        async def endpoint(request: Request) -> Response:
            self.calls[name] += 1
            await self.state.faults.delay()
            try:
                self._inject_failure()
                caller = self._caller(request)
                return await handler(request, caller)
            except GraphError as error:
                return graph_error_response(error)

        return endpoint

    def _inject_failure(self) -> None:
        code = self.state.faults.take_failure()
        if code is not None:
            raise self._fault(code)

    def _fault(self, code: int) -> GraphError:
        name, message = FAULT_ERRORS.get(code, ("UnknownError", f"Injected failure {code}."))
        headers = {}
        if code in (429, 503):
            headers["Retry-After"] = str(self.state.faults.retry_after_seconds)
        return GraphError(code, name, message, headers)

    def _caller(self, request: Request) -> EmulatedAccount:
        token = bearer_token(request)
        challenge = {"WWW-Authenticate": AUTH_CHALLENGE}
        if token is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        email = self.state.oauth.token_owner(token)
        account = self.state.account(email) if email else None
        if account is None:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
                challenge,
            )
        return account

    def _role(self, caller: EmulatedAccount, calendar_id: str) -> AccessRole:
        role = self.state.role(caller.email, calendar_id)
        if role is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return role

    def _readable(self, caller: EmulatedAccount, calendar_id: str) -> EmulatedCalendar:
        if self._role(caller, calendar_id) is AccessRole.FREE_BUSY:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return self.state.calendars[calendar_id]

    def _writable(self, caller: EmulatedAccount, calendar_id: str) -> EmulatedCalendar:
        if self._role(caller, calendar_id) not in (AccessRole.OWNER, AccessRole.WRITER):
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return self.state.calendars[calendar_id]

    def _calendar_json(
        self, calendar: EmulatedCalendar, role: AccessRole, caller: EmulatedAccount
    ) -> dict[str, object]:
        return calendar_resource(calendar, role, caller, self.state.account(calendar.owner_email))

    def _event_json(self, event: EmulatedEvent, zone: ShownZone | None = None) -> dict[str, object]:
        """One event as Graph answers it: start and end in UTC, or in the zone of a Prefer: outlook.timezone."""
        rendered = {name: render(event) for name, render in self.event_properties.items()}
        rendered["start"], rendered["end"] = graph_datetime(event.start, zone), graph_datetime(event.end, zone)
        if TRANSACTION_ID in event.properties:  # only returned when the app set it
            rendered[TRANSACTION_ID] = event.properties[TRANSACTION_ID]
        return rendered

    def _event_renderer(self, selection: list[str] | None) -> Callable[[EmulatedEvent], dict[str, object]]:
        return event_renderer(self.event_properties, selection)

    def _organizer(self, event: EmulatedEvent) -> dict[str, object]:
        calendar = self.state.calendars[event.calendar_id]
        organizer = self.state.account(calendar.owner_email)
        return {
            "emailAddress": {
                "name": organizer.name if organizer else calendar.owner_email,
                "address": organizer.email if organizer else calendar.owner_email,
            }
        }

    def _find_event(self, caller: EmulatedAccount, event_id: str) -> EmulatedEvent:
        for calendar, role in self.state.visible_calendars(caller.email):
            if role is not AccessRole.FREE_BUSY and event_id in calendar.events:
                return calendar.events[event_id]
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    # Graph: user and calendars -------------------------------------------------
    async def me(self, request: Request, caller: EmulatedAccount) -> Response:
        """A personal account has no `mail` (Graph fills it for Exchange Online mailboxes only): its address is the
        userPrincipalName."""
        return JSONResponse(
            {
                "@odata.context": odata_context(request, "users/$entity"),
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, caller.email)),
                "displayName": caller.name,
                "mail": None if caller.personal else caller.email,
                "userPrincipalName": caller.email,
            }
        )

    async def list_calendars(self, request: Request, caller: EmulatedAccount) -> Response:
        items = [
            self._calendar_json(calendar, role, caller) for calendar, role in self.state.visible_calendars(caller.email)
        ]
        return odata_collection(request, "users('me')/calendars", items, dict)

    async def get_calendar(self, request: Request, caller: EmulatedAccount) -> Response:
        calendar_id = request.path_params["calendar_id"]
        role = self._role(caller, calendar_id)
        return JSONResponse(self._calendar_json(self.state.calendars[calendar_id], role, caller))

    async def default_calendar(self, request: Request, caller: EmulatedAccount) -> Response:
        calendar = self.state.calendars[caller.primary_calendar_id]
        return JSONResponse(self._calendar_json(calendar, AccessRole.OWNER, caller))

    async def user_calendar(self, request: Request, caller: EmulatedAccount) -> Response:
        """GET /users/{id}/calendar: another user's default calendar, when it is shared with the caller."""
        target = self.state.account(request.path_params["user"])
        if target is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{request.path_params['user']}' is invalid.")
        calendar = self.state.calendars[target.primary_calendar_id]
        role = self.state.role(caller.email, calendar.id)
        if role is None or role is AccessRole.FREE_BUSY:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return JSONResponse(self._calendar_json(calendar, role, caller))

    async def calendar_permissions(self, request: Request, caller: EmulatedAccount) -> Response:
        """Only the owner sees who a calendar is shared with; a recipient gets an empty collection."""
        calendar_id = request.path_params["calendar_id"]
        role = self._role(caller, calendar_id)
        items: list[dict[str, object]] = []
        if role is AccessRole.OWNER:
            if calendar_id == caller.primary_calendar_id:
                items.append(
                    {
                        "id": "RGVmYXVsdA==",
                        "isRemovable": False,
                        "isInsideOrganization": True,
                        "role": "freeBusyRead",
                        "allowedRoles": ["none", "freeBusyRead", "limitedRead", "read", "write"],
                        "emailAddress": {"name": "My Organization"},
                    }
                )
            for account in self.state.accounts.values():
                shared = account.access.get(calendar_id)
                if account.email == caller.email or shared is None or shared not in PERMISSION_ROLES:
                    continue
                items.append(
                    {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{calendar_id}/{account.email}")),
                        "isRemovable": True,
                        "isInsideOrganization": True,
                        "role": PERMISSION_ROLES[shared],
                        "allowedRoles": ["freeBusyRead", "limitedRead", "read", "write"],
                        "emailAddress": {"name": account.name, "address": account.email},
                    }
                )
        return odata_collection(request, f"users('me')/calendars('{calendar_id}')/calendarPermissions", items, dict)

    async def create_calendar(self, request: Request, caller: EmulatedAccount) -> Response:
        body = lower_keys(await request.json())
        name = str(body.get("name") or "").strip()
        if not name:
            raise GraphError(400, "ErrorInvalidParameter", "The folder name must be specified.")
        if any(c.name.lower() == name.lower() and c.owner_email == caller.email for c in self.state.calendars.values()):
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        calendar = self.state.add_calendar(caller.email, name)
        return JSONResponse(self._calendar_json(calendar, AccessRole.OWNER, caller), status_code=201)

    # Graph: free/busy ----------------------------------------------------------
    async def get_schedule(self, request: Request, caller: EmulatedAccount) -> Response:
        """getSchedule; a personal Microsoft account is refused (Graph supports it for work or school accounts only)."""
        if caller.personal:
            raise GraphError(400, PERSONAL_SCHEDULE_ERROR[0], PERSONAL_SCHEDULE_ERROR[1])
        body = lower_keys(await request.json())
        schedules = body.get("schedules")
        if not isinstance(schedules, list) or not schedules:
            raise GraphError(400, "ErrorInvalidParameter", "The parameter 'schedules' must not be empty.")
        if len(schedules) > SCHEDULE_MAX_MAILBOXES:
            raise GraphError(
                400,
                "ErrorMailboxDataArrayTooBig",
                "There are too many target users in the EmailAddress array. "
                f"The allowed size = {SCHEDULE_MAX_MAILBOXES}; the actual size = {len(schedules)}.",
            )
        start = parse_date_time_time_zone(body.get("starttime"))
        end = parse_date_time_time_zone(body.get("endtime"))
        if end <= start:
            raise GraphError(400, "ErrorInvalidTimeInterval", "The start date must be earlier than the end date.")
        days = math.ceil((end - start) / timedelta(days=1))
        if days > SCHEDULE_MAX_DAYS:
            raise GraphError(
                400,
                "ErrorTimeIntervalTooBig",
                "The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long. "
                f"The allowed limit = {SCHEDULE_MAX_DAYS} days; the actual limit = {days} days.",
            )
        interval = int(str(body.get("availabilityviewinterval") or 30))
        if not 5 <= interval <= 1440:
            raise GraphError(400, "ErrorInvalidParameter", "availabilityViewInterval must be between 5 and 1440.")
        value = [self._schedule_information(caller, str(s), start, end, interval) for s in schedules]
        return JSONResponse(
            {
                "@odata.context": odata_context(request, "Collection(microsoft.graph.scheduleInformation)"),
                "value": value,
            }
        )

    def _schedule_information(
        self, caller: EmulatedAccount, address: str, start: datetime, end: datetime, interval: int
    ) -> dict[str, object]:
        target = self.state.account(address)
        if target is None:
            return {
                "scheduleId": address,
                "error": {
                    "message": f"Unable to resolve e-mail address {address} to an Active Directory object.",
                    "responseCode": "5009",
                },
            }
        calendar_id = target.primary_calendar_id
        if calendar_id in caller.lost:
            return {
                "scheduleId": address,
                "error": {
                    "message": "The user does not have permission to view free/busy information.",
                    "responseCode": "ErrorNoFreeBusyAccess",
                },
            }
        role = AccessRole.OWNER if target.email == caller.email else self.state.role(caller.email, calendar_id)
        details = role in (AccessRole.OWNER, AccessRole.WRITER, AccessRole.READER)
        events = [e for e in self.state.occurrences(calendar_id, start, end) if not e.cancelled]
        items: list[dict[str, object]] = []
        for event in events:
            item: dict[str, object] = {
                "isPrivate": False,
                "status": SCHEDULE_STATUSES[event.status],
                "start": graph_datetime(event.start),
                "end": graph_datetime(event.end),
            }
            if details:
                item["subject"] = event.summary
                item["location"] = ""
            items.append(item)
        return {
            "scheduleId": address,
            "availabilityView": availability_view(events, start, end, interval),
            "scheduleItems": items,
            "workingHours": {
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                "startTime": "08:00:00.0000000",
                "endTime": "17:00:00.0000000",
                "timeZone": {"name": "UTC"},
            },
        }

    async def calendar_view(self, request: Request, caller: EmulatedAccount) -> Response:
        calendar = self._readable(caller, request.path_params["calendar_id"])
        start_text = request.query_params.get("startDateTime") or request.query_params.get("startdatetime")
        end_text = request.query_params.get("endDateTime") or request.query_params.get("enddatetime")
        if not start_text or not end_text:
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query string parameters "
                "StartDateTime and EndDateTime.",
            )
        start, end = parse_query_datetime(start_text), parse_query_datetime(end_text)
        events = self.state.occurrences(calendar.id, start, end)
        return odata_collection(
            request,
            f"users('me')/calendars('{calendar.id}')/calendarView",
            events,
            self._event_renderer(odata_select(request)),
        )

    # Graph: events ---------------------------------------------------------------
    async def list_events(self, request: Request, caller: EmulatedAccount) -> Response:
        calendar = self._readable(caller, request.path_params["calendar_id"])
        events = sorted(calendar.events.values(), key=lambda e: (e.start, e.id))
        return odata_collection(
            request,
            f"users('me')/calendars('{calendar.id}')/events",
            events,
            self._event_renderer(odata_select(request)),
        )

    async def create_event(self, request: Request, caller: EmulatedAccount) -> Response:
        """A POST repeating the `transactionId` of an event in the calendar creates nothing: Graph answers it like
        the first one, 201 with the event it already has (same id)."""
        calendar = self._writable(caller, request.path_params["calendar_id"])
        body = lower_keys(await request.json())
        shown = preferred_time_zone(request)
        await self.state.faults.hold_create()  # the request is in: the client may die now, the event is stored
        start = parse_date_time_time_zone(body.get("start"))
        end = parse_date_time_time_zone(body.get("end"))
        zone = event_time_zone(body.get("start"))
        event_time_zone(body.get("end"))  # refused like the start's when unknown
        if end < start:
            raise GraphError(400, "ErrorInvalidRequest", "The end time must not be before the start time.")
        attendees = parse_attendees(body)
        show_as = str(body.get("showas") or "busy")
        transaction_id = body.get("transactionid")
        if transaction_id is not None and not isinstance(transaction_id, str):
            raise GraphError(400, "ErrorInvalidRequest", "transactionId must be a string.")
        with self.state.lock:
            event = (
                self.state.event_with_property(calendar.id, TRANSACTION_ID, transaction_id) if transaction_id else None
            )
            if event is None:
                event = self.state.add_event(
                    calendar.id,
                    start,
                    end,
                    str(body.get("subject") or ""),
                    attendees=attendees,
                    description=parse_description(body),
                    busy=show_as not in ("free", "workingElsewhere"),
                    invitations_sent=bool(attendees),
                    properties={TRANSACTION_ID: transaction_id} if transaction_id else None,
                    timezone=zone,
                )
        answer = JSONResponse(self._event_json(event, shown), status_code=201)
        return await deliver(self.state, answer, self._unavailable)

    def _unavailable(self) -> Response:
        return graph_error_response(self._fault(503))

    async def get_event(self, request: Request, caller: EmulatedAccount) -> Response:
        shown = preferred_time_zone(request)
        return JSONResponse(self._event_json(self._find_event(caller, request.path_params["event_id"]), shown))

    async def update_event(self, request: Request, caller: EmulatedAccount) -> Response:
        event = self._find_event(caller, request.path_params["event_id"])
        self._writable(caller, event.calendar_id)
        body = lower_keys(await request.json())
        shown = preferred_time_zone(request)
        start = parse_date_time_time_zone(body["start"]) if "start" in body else event.start
        end = parse_date_time_time_zone(body["end"]) if "end" in body else event.end
        zone = event_time_zone(body["start"]) if "start" in body else event.timezone
        if "end" in body:
            event_time_zone(body["end"])  # refused like the start's when unknown
        with self.state.lock:
            event.start, event.end, event.timezone = start, end, zone
            if "subject" in body:
                event.summary = str(body["subject"] or "")
            if "body" in body:
                event.description = parse_description(body)
            if "showas" in body:
                event.busy = str(body["showas"]) not in ("free", "workingElsewhere")
            if "attendees" in body:
                event.attendees = parse_attendees(body)
                event.invitations_sent = event.invitations_sent or bool(event.attendees)
            if event.attendees and event.organizer in (None, caller.email):
                event.updates_sent += 1  # Outlook sends the organiser's changes to the attendees
        return JSONResponse(self._event_json(event, shown))

    async def delete_event(self, request: Request, caller: EmulatedAccount) -> Response:
        event = self._find_event(caller, request.path_params["event_id"])
        calendar = self._writable(caller, event.calendar_id)
        with self.state.lock:
            calendar.events.pop(event.id, None)
        return Response(status_code=204)


def create_microsoft_emulator(
    state: EmulatorState,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uris: Collection[str] | None = None,
) -> Starlette:
    """The emulator app; client id/secret and redirect URIs are only checked when given.

    `app.state.calls` counts requests per route name (e.g. "getSchedule", "oauth.token").
    """
    emulator = _MicrosoftEmulator(state)
    oauth = OAuthServer(
        state,
        MicrosoftOAuth(),
        emulator.calls,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uris=redirect_uris,
    )
    app = Starlette(routes=[*oauth.routes(), *emulator.routes()])
    app.state.calls = emulator.calls
    return app
