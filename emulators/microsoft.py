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
from bisect import bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.lost_answer import deliver
from emulators.microsoft_push import GraphPush
from emulators.microsoft_wire import (
    AUTH_CHALLENGE,
    FAULT_ERRORS,
    PERMISSION_ROLES,
    SCHEDULE_STATUSES,
    DeltaToken,
    DeltaTokens,
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
    preferred_page_size,
    preferred_time_zone,
    removed_event,
    sync_state_not_found,
)
from emulators.oauth import OAuthServer, bearer_token
from emulators.state import (
    AccessRole,
    EmulatedAccount,
    EmulatedCalendar,
    EmulatedEvent,
    EmulatorState,
    expand_series,
)

SCHEDULE_MAX_MAILBOXES = 20
SERIES_MOVE_HORIZON = timedelta(days=366)
"""A changed series reports every occurrence up to this long after the view as removed unless it is in the view:
the tokens keep no list of what a client holds, and an instance may have moved out of the view either way."""
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
    def __init__(self, state: EmulatorState, push_retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)) -> None:
        self.state = state
        self.calls: Counter[str] = Counter()
        self.event_properties = event_properties(self._organizer)
        self.event_properties["isOrganizer"] = self._is_organizer
        self.delta_tokens = DeltaTokens()
        self.push = GraphPush(state, retry_delays=push_retry_delays)

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
            Route("/v1.0/me/calendarView/delta", self.api("calendarView.delta", self.delta), methods=["GET"]),
            Route(
                "/v1.0/users/{user}/calendarView/delta",
                self.api("calendarView.delta", self.delta),
                methods=["GET"],
            ),
            Route("/v1.0/subscriptions", self.api("subscriptions.create", self.push.create), methods=["POST"]),
            Route(
                "/v1.0/subscriptions/{subscription_id}",
                self.api("subscriptions.get", self.push.get),
                methods=["GET"],
            ),
            Route(
                "/v1.0/subscriptions/{subscription_id}",
                self.api("subscriptions.renew", self.push.renew),
                methods=["PATCH"],
            ),
            Route(
                "/v1.0/subscriptions/{subscription_id}",
                self.api("subscriptions.delete", self.push.delete),
                methods=["DELETE"],
            ),
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
        transaction_id = self._transaction_id(event)
        if transaction_id is not None:  # only returned when an app set it
            rendered[TRANSACTION_ID] = transaction_id
        return rendered

    @staticmethod
    def _transaction_id(event: EmulatedEvent) -> str | None:
        """The transactionId an app created the event with: meetgraph's own (kept from the create), or that of the
        other application that created it through the API (`created_by_app`: its own idempotency id, which names
        it). The one documented trace of an API client on an Outlook event; the user's own clients set none."""
        if TRANSACTION_ID in event.properties:
            return event.properties[TRANSACTION_ID]
        if event.created_by_app is not None:
            return f"{event.created_by_app}:{event.occurrence_of or event.id}"
        return None

    def _event_renderer(self, selection: list[str] | None) -> Callable[[EmulatedEvent], dict[str, object]]:
        return event_renderer(self.event_properties, selection)

    def _organizer(self, event: EmulatedEvent) -> dict[str, object]:
        calendar = self.state.calendars[event.calendar_id]
        address = event.organizer or calendar.owner_email
        organizer = self.state.account(address)
        return {"emailAddress": {"name": organizer.name if organizer else address, "address": address}}

    def _is_organizer(self, event: EmulatedEvent) -> bool:
        """Whether the calendar's owner organises it (what Graph's isOrganizer tells the mailbox's owner)."""
        calendar = self.state.calendars[event.calendar_id]
        return event.organizer is None or event.organizer.lower() == calendar.owner_email

    def _find_event(self, caller: EmulatedAccount, event_id: str) -> EmulatedEvent:
        for calendar, role in self.state.visible_calendars(caller.email):
            if role is not AccessRole.FREE_BUSY and event_id in calendar.events:
                if calendar.events[event_id].cancelled:
                    break  # deleted: kept only so that delta queries and notifications can report it
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
        events = [e for e in self.state.occurrences(calendar.id, start, end) if not e.cancelled]
        return odata_collection(
            request,
            f"users('me')/calendars('{calendar.id}')/calendarView",
            events,
            self._event_renderer(odata_select(request)),
        )

    # Graph: events ---------------------------------------------------------------
    async def list_events(self, request: Request, caller: EmulatedAccount) -> Response:
        calendar = self._readable(caller, request.path_params["calendar_id"])
        events = sorted((e for e in calendar.events.values() if not e.cancelled), key=lambda e: (e.start, e.id))
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
            if event is not None and event.cancelled:
                event = None  # Graph dedups against the events the calendar still holds
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
            calendar.events[event.id].cancelled = True  # kept (not popped): delta queries report it as removed
        return Response(status_code=204)

    # Graph: delta ----------------------------------------------------------------------
    async def delta(self, request: Request, caller: EmulatedAccount) -> Response:
        """calendarView/delta of the caller's default calendar (`/me/...`, or `/users/{id}/...` naming the caller:
        v1.0 documents delta for the primary calendar's view only). The first round lists the view (instances of
        series expanded) page by page; its last page brings a deltaLink, whose rounds list what changed since."""
        user = request.path_params.get("user")
        if user is not None and user.lower() not in (caller.email, str(uuid.uuid5(uuid.NAMESPACE_DNS, caller.email))):
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        query = request.query_params
        text = (
            query.get("$skiptoken") or query.get("$skipToken") or query.get("$deltatoken") or query.get("$deltaToken")
        )
        if text:
            token = self.delta_tokens.decode(text)
            if token.caller != caller.email or token.calendar_id != caller.primary_calendar_id:
                raise GraphError(410, "SyncStateInvalid", "The sync state does not belong to this calendar view.")
        else:
            start_text = query.get("startDateTime") or query.get("startdatetime")
            end_text = query.get("endDateTime") or query.get("enddatetime")
            if not start_text or not end_text:
                raise GraphError(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string parameters "
                    "StartDateTime and EndDateTime.",
                )
            start, end = parse_query_datetime(start_text), parse_query_datetime(end_text)
            if end <= start:
                raise GraphError(400, "ErrorInvalidParameter", "The end of the time window must be after its start.")
            token = DeltaToken(
                "initial", caller.email, caller.primary_calendar_id, start, end, since=self.state.current_seq()
            )
        self._readable(caller, token.calendar_id)
        if not self.state.sync_state_valid(token.calendar_id, token.since):
            raise sync_state_not_found()
        if token.kind == "delta":
            token = DeltaToken(
                "changes",
                token.caller,
                token.calendar_id,
                token.start,
                token.end,
                token.since,
                self.state.current_seq(),
            )
        size = preferred_page_size(request)
        shown = preferred_time_zone(request)
        if token.kind == "initial":
            listed = [e for e in self.state.occurrences(token.calendar_id, token.start, token.end) if not e.cancelled]
            keyed = [((e.start.isoformat(), e.id), e, False) for e in listed]
        else:
            keyed = self._changes(token)
        keys = [key for key, _, _ in keyed]
        first = bisect_right(keys, token.after) if token.after is not None else 0
        page = keyed[first : first + size]
        base = str(request.url).split("?", 1)[0]
        body: dict[str, object] = {
            "@odata.context": odata_context(request, "Collection(event)"),
            "value": [removed_event(e.id) if gone else self._event_json(e, shown) for _, e, gone in page],
        }
        if first + size < len(keyed):
            following = DeltaToken(
                token.kind,
                token.caller,
                token.calendar_id,
                token.start,
                token.end,
                token.since,
                token.until,
                page[-1][0],
            )
            body["@odata.nextLink"] = f"{base}?$skiptoken={self.delta_tokens.encode(following)}"
        else:
            last_seen = token.until if token.kind == "changes" else token.since
            link = DeltaToken("delta", token.caller, token.calendar_id, token.start, token.end, last_seen)
            body["@odata.deltaLink"] = f"{base}?$deltatoken={self.delta_tokens.encode(link)}"
        return JSONResponse(body, headers={"Preference-Applied": f"odata.maxpagesize={size}"})

    def _changes(self, token: DeltaToken) -> list[tuple[tuple[str, str], EmulatedEvent, bool]]:
        """What changed in (since, until] within the view, keyed (seq, id), each event or instance with whether it is
        reported removed (deleted, cancelled or moved out of the window)."""
        found: list[tuple[tuple[str, str], EmulatedEvent, bool]] = []
        for event in self.state.changed_since(token.calendar_id, token.since):
            if event.seq > token.until:
                continue
            seq = f"{event.seq:012d}"
            if event.recurrence is None:
                inside = event.start < token.end and event.end > token.start
                found.append(((seq, event.id), event, event.cancelled or not inside))
                continue
            for occurrence in expand_series(event, token.end + SERIES_MOVE_HORIZON):
                inside = occurrence.start < token.end and occurrence.end > token.start
                found.append(((seq, occurrence.id), occurrence, event.cancelled or not inside))
        return sorted(found, key=lambda triple: triple[0])


def create_microsoft_emulator(
    state: EmulatorState,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uris: Collection[str] | None = None,
    push_retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0),
) -> Starlette:
    """The emulator app; client id/secret and redirect URIs are only checked when given.

    `app.state.calls` counts requests per route name (e.g. "getSchedule", "oauth.token"); `app.state.push` is the
    emulator's emulators.microsoft_push.GraphPush (subscriptions, deliveries, lifecycle notifications on demand).
    """
    emulator = _MicrosoftEmulator(state, push_retry_delays)
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
    app.state.push = emulator.push
    app.state.control_routes = emulator.push.control_routes()
    return app
