"""Google OAuth 2.0, OpenID Connect userinfo and Calendar API v3, served from the shared EmulatorState.

Paths are the real hosts' paths relative to the mount root (accounts.google.com `/o/oauth2/v2/auth`,
oauth2.googleapis.com `/token`, openidconnect.googleapis.com `/v1/userinfo`, www.googleapis.com
`/calendar/v3/...`), so the provider works against Google by changing only its base URLs.
`app.state.calls` counts requests per API method (`freebusy.query`, `calendarList.list`, ...).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from emulators.oauth import (
    AuthorizeRefusal,
    ClientRedirect,
    IssuedTokens,
    OAuthDialect,
    OAuthServer,
    TokenRefusal,
    basic_or_post_credentials,
    bearer_token,
)
from emulators.state import AccessRole, EmulatedCalendar, EmulatedEvent, EmulatorState

FREEBUSY_MAX_ITEMS = 50
FREEBUSY_MAX_RANGE = timedelta(days=90)
CALENDAR_LIST_DEFAULT_PAGE = 100
CALENDAR_LIST_MAX_PAGE = 250
WRITE_ROLES = frozenset({AccessRole.OWNER, AccessRole.WRITER})
READ_ROLES = frozenset({AccessRole.OWNER, AccessRole.WRITER, AccessRole.READER})
STATUS_NAMES: Mapping[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    410: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

BEARER_CHALLENGE = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'

Handler = Callable[[Request, str], Awaitable[Response]]


class BadRequest(Exception):
    """A request the real API answers with its 400 JSON error."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# wire format ---------------------------------------------------------------
def api_error(
    status: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Google's JSON error envelope."""
    detail = {"domain": domain, "reason": reason, "message": message, **(extra or {})}
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [detail],
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def auth_error() -> JSONResponse:
    return api_error(
        401,
        "authError",
        "Invalid Credentials",
        extra={"location": "Authorization", "locationType": "header"},
        headers={"WWW-Authenticate": BEARER_CHALLENGE},
    )


def not_found() -> JSONResponse:
    return api_error(404, "notFound", "Not Found")


def fault_response(status: int, retry_after: int) -> JSONResponse:
    """The answer Google gives for an injected failure status."""
    retry = {"Retry-After": str(retry_after)} if status in (429, 503) else None
    if status == 429:
        return api_error(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits", headers=retry)
    if status == 403:
        return api_error(403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")
    if status == 401:
        return auth_error()
    if status == 404:
        return not_found()
    if status == 503:
        return api_error(503, "backendError", "The service is currently unavailable.", headers=retry)
    if status >= 500:
        return api_error(status, "backendError", "Backend Error")
    return api_error(status, "badRequest", "Bad Request")


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def error_page(title: str, detail: str) -> HTMLResponse:
    """What Google shows in the browser when the authorization request itself is broken."""
    page = (
        "<!doctype html><html><head><title>Error</title></head><body>"
        f"<h1>Access blocked: authorization error</h1><h2>{html.escape(title)}</h2>"
        f"<p>{html.escape(detail)}</p></body></html>"
    )
    return HTMLResponse(page, status_code=400)


UTC_ZONE_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})


def rfc3339(moment: datetime, zone: ZoneInfo | None = None) -> str:
    if zone is None:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if zone.key in UTC_ZONE_NAMES:
        return moment.astimezone(UTC).isoformat()  # same text, without a zoneinfo lookup per value
    return moment.astimezone(zone).isoformat()


def parse_rfc3339(value: object, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise BadRequest("required", f"Missing {field} parameter.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("invalid", f"Invalid value for {field}: {value}") from exc
    if parsed.tzinfo is None:
        raise BadRequest("invalid", f"Invalid value for {field}: {value}")
    return parsed.astimezone(UTC)


def parse_zone(name: object) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest("timeZoneInvalid", f"Invalid time zone definition: {name}") from exc


def parse_event_time(value: object, field: str) -> datetime:
    """An event start/end: {dateTime[, timeZone]} or an all-day {date}."""
    if not isinstance(value, dict):
        raise BadRequest("required", f"Missing {field} time.")
    zone = parse_zone(value.get("timeZone"))
    if value.get("dateTime"):
        raw = str(value["dateTime"])
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest("invalid", f"Invalid {field} time.") from exc
        if parsed.tzinfo is None:
            if zone is None:
                raise BadRequest("required", f"Missing time zone definition for {field} time.")
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    if value.get("date"):
        try:
            day = date.fromisoformat(str(value["date"]))
        except ValueError as exc:
            raise BadRequest("invalid", f"Invalid {field} date.") from exc
        return datetime.combine(day, time(0), tzinfo=zone or UTC).astimezone(UTC)
    raise BadRequest("required", f"Missing {field} time.")


def merged_busy(events: list[EmulatedEvent], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Busy periods clipped to the query range, overlapping ones joined (as Google answers them)."""
    spans: list[tuple[datetime, datetime]] = []
    for event in sorted(events, key=lambda e: e.start):
        lower, upper = max(event.start, start), min(event.end, end)
        if spans and lower <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], upper))
        else:
            spans.append((lower, upper))
    return spans


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(decoded.removeprefix("offset:"))
    except (ValueError, binascii.Error) as exc:
        raise BadRequest("invalid", "Invalid page token value.") from exc


class GoogleOAuth(OAuthDialect):
    """Google's authorization server (accounts.google.com, oauth2.googleapis.com) as OAuthServer speaks it.

    A broken authorization request gets Google's HTML error page; only a refused consent goes back to the
    client. A refresh token comes with a code asked for with access_type=offline; a refresh answers no
    refresh token. Token errors are {"error", "error_description"}.
    """

    authorize_path = "/o/oauth2/v2/auth"
    token_path = "/token"
    requires_scope = True
    challenge_methods = frozenset({None, "", "plain", "S256"})  # a blank method reads as plain
    refresh_scope = "openid email https://www.googleapis.com/auth/calendar"
    token_headers = {"Cache-Control": "no-store"}
    page_errors: Mapping[AuthorizeRefusal, tuple[str, str]] = {
        AuthorizeRefusal.RESPONSE_TYPE: ("Error 400: invalid_request", "Invalid response_type; expected 'code'."),
        AuthorizeRefusal.SCOPE: ("Error 400: invalid_request", "Missing required parameter: scope"),
        AuthorizeRefusal.CODE_CHALLENGE: ("Error 400: invalid_request", "Missing required parameter: code_challenge"),
        AuthorizeRefusal.CHALLENGE_METHOD: ("Error 400: invalid_request", "Invalid code_challenge_method value."),
    }

    def redirect_uri_allowed(self, uri: str) -> bool:
        parts = urlsplit(uri)
        return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment

    def issues_refresh_token(self, query: QueryParams) -> bool:
        return query.get("access_type") == "offline"

    def client_credentials(self, request: Request, form: Mapping[str, str]) -> tuple[str, str]:
        return basic_or_post_credentials(request, form)

    def refuse_client(self, client_id: str) -> Response:
        return error_page("Error 401: invalid_client", "The OAuth client was not found.")

    def refuse_redirect_uri(self, redirect_uri: str) -> Response:
        return error_page(
            "Error 400: redirect_uri_mismatch",
            "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy.",
        )

    def refuse_authorization(self, refusal: AuthorizeRefusal, query: QueryParams, back: ClientRedirect) -> Response:
        if refusal in self.page_errors:
            return error_page(*self.page_errors[refusal])
        return back({"error": "access_denied"})

    def granted(self, code: str, scope: str, query: QueryParams) -> dict[str, str | None]:
        return {"code": code, "state": query.get("state"), "scope": scope, "authuser": "0", "prompt": "consent"}

    def missing_parameter(self, name: str) -> Response:
        return oauth_error(400, "invalid_request", f"Missing required parameter: {name}")

    def refuse_token(self, refusal: TokenRefusal, value: str | None) -> Response:
        if refusal is TokenRefusal.NO_CLIENT:
            return oauth_error(400, "invalid_request", "Could not determine client ID from request.")
        if refusal is TokenRefusal.UNKNOWN_CLIENT:
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if refusal is TokenRefusal.CLIENT_SECRET:
            return oauth_error(401, "invalid_client", "Unauthorized")
        if refusal is TokenRefusal.CODE:
            return oauth_error(400, "invalid_grant", "Bad Request")
        if refusal is TokenRefusal.REFRESH_TOKEN:
            return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {value}")

    def token_body(self, tokens: IssuedTokens, scope: str) -> dict[str, object]:
        body: dict[str, object] = {
            "access_token": tokens.access_token,
            "expires_in": tokens.expires_in,
            "scope": scope,
            "token_type": "Bearer",
        }
        if tokens.refresh_token:
            body["refresh_token"] = tokens.refresh_token
        return body


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
        entry: dict[str, object] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{abs(hash((calendar.id, role.value)))}"',
            "id": calendar.id,
            "summary": calendar.name,
            "timeZone": "UTC",
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": role.value,
            "defaultReminders": [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if account is not None and calendar.id == account.primary_calendar_id:
            entry["primary"] = True
        return entry

    def event_resource(self, event: EmulatedEvent) -> dict[str, object]:
        organizer = self.state.calendars[event.calendar_id].owner_email
        resource: dict[str, object] = {
            "kind": "calendar#event",
            "etag": f'"{abs(hash((event.id, event.start, event.end, event.summary)))}"',
            "id": event.id,
            "status": "cancelled" if event.cancelled else "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event.id}",
            "summary": event.summary,
            "creator": {"email": organizer},
            "organizer": {"email": organizer, "self": True},
            "start": {"dateTime": rfc3339(event.start), "timeZone": "UTC"},
            "end": {"dateTime": rfc3339(event.end), "timeZone": "UTC"},
            "iCalUID": f"{event.id}@google.com",
            "sequence": 0,
            "attendees": [{"email": a, "responseStatus": "needsAction"} for a in event.attendees],
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        if event.description is not None:
            resource["description"] = event.description
        if not event.busy:
            resource["transparency"] = "transparent"
        return resource

    async def userinfo(self, request: Request) -> Response:
        self.calls["userinfo"] += 1
        await self.state.faults.delay()
        failure = self.state.faults.take_failure()
        if failure:
            return fault_response(failure, self.state.faults.retry_after_seconds)
        email = self.bearer_owner(request)
        account = self.state.account(email) if email else None
        if account is None:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Invalid Credentials"},
                status_code=401,
                headers={"WWW-Authenticate": BEARER_CHALLENGE},
            )
        return JSONResponse(
            {
                "sub": str(int(hashlib.sha256(account.email.encode()).hexdigest()[:15], 16)),
                "name": account.name,
                "given_name": account.name.split(" ")[0],
                "email": account.email,
                "email_verified": True,
            }
        )

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
        return JSONResponse(self.calendar_resource(calendar))

    async def calendars_get(self, request: Request, email: str) -> Response:
        calendar_id = self.resolve(email, request.path_params["calendar_id"])
        if self.state.role(email, calendar_id) is None:
            return not_found()
        return JSONResponse(self.calendar_resource(self.state.calendars[calendar_id]))

    @staticmethod
    def calendar_resource(calendar: EmulatedCalendar) -> dict[str, object]:
        return {
            "kind": "calendar#calendar",
            "etag": f'"{abs(hash(calendar.id))}"',
            "id": calendar.id,
            "summary": calendar.name,
            "timeZone": "UTC",
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }

    def calendar_for(
        self, request: Request, email: str, roles: frozenset[AccessRole]
    ) -> EmulatedCalendar | Response:
        """The path's calendar if the account holds one of `roles`, else Google's 404 / 403."""
        calendar_id = self.resolve(email, request.path_params["calendar_id"])
        role = self.state.role(email, calendar_id)
        if role is None:
            return not_found()
        if role not in roles:
            level = "writer" if roles == WRITE_ROLES else "reader"
            return api_error(
                403, "requiredAccessLevel", f"You need to have {level} access to this calendar."
            )
        return self.state.calendars[calendar_id]

    def event_for(
        self, request: Request, email: str, roles: frozenset[AccessRole]
    ) -> EmulatedEvent | Response:
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
                "items": [self.event_resource(e) for e in events],
            }
        )

    async def events_insert(self, request: Request, email: str) -> Response:
        calendar = self.calendar_for(request, email, WRITE_ROLES)
        if isinstance(calendar, Response):
            return calendar
        body = await self.json_body(request)
        start = parse_event_time(body.get("start"), "start")
        end = parse_event_time(body.get("end"), "end")
        if end <= start:
            raise BadRequest("timeRangeEmpty", "The specified time range is empty.")
        event = self.state.add_event(
            calendar.id,
            start,
            end,
            str(body.get("summary") or ""),
            attendees=attendee_emails(body.get("attendees")),
            description=str(body["description"]) if body.get("description") is not None else None,
            busy=body.get("transparency") != "transparent",
            invitations_sent=request.query_params.get("sendUpdates") == "all",
        )
        return JSONResponse(self.event_resource(event))

    async def events_get(self, request: Request, email: str) -> Response:
        event = self.event_for(request, email, READ_ROLES)
        if isinstance(event, Response):
            return event
        return JSONResponse(self.event_resource(event))

    async def events_patch(self, request: Request, email: str) -> Response:
        event = self.event_for(request, email, WRITE_ROLES)
        if isinstance(event, Response):
            return event
        body = await self.json_body(request)
        start = parse_event_time(body["start"], "start") if "start" in body else event.start
        end = parse_event_time(body["end"], "end") if "end" in body else event.end
        if end <= start:
            raise BadRequest("timeRangeEmpty", "The specified time range is empty.")
        with self.state.lock:
            event.start, event.end = start, end
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
        return JSONResponse(self.event_resource(event))

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


def attendee_emails(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("invalid", "Invalid attendee list.")
    emails: list[str] = []
    for attendee in value:
        email = attendee.get("email") if isinstance(attendee, dict) else None
        if not isinstance(email, str) or "@" not in email:
            raise BadRequest("invalid", "Invalid attendee email.")
        emails.append(email)
    return emails


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
        Route(event, api("events.update", emulator.events_patch), methods=["PUT"]),
        Route(event, api("events.delete", emulator.events_delete), methods=["DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.calls = emulator.calls
    app.state.emulator = emulator
    return app
