"""Office 365 emulator: Microsoft identity platform v2 (authorize, token) and Microsoft Graph v1.0 calendars.

Paths are relative to the mount root and mirror the real hosts: `/{tenant}/oauth2/v2.0/...` as on
login.microsoftonline.com and `/v1.0/...` as on graph.microsoft.com. Shares present themselves as in Graph:
a shared calendar is listed in the recipient's /me/calendars with `canShare`/`canViewPrivateItems` false,
`canEdit` only for write shares and `owner` naming the sharer; only the owner sees calendarPermissions
(roles freeBusyRead / read / write), a recipient gets an empty collection; a free/busy-only share refuses to
read events (403 ErrorAccessDenied) and is answered only through getSchedule; a lost calendar disappears
from the list and answers 404 ErrorItemNotFound.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.oauth import (
    AuthorizeRefusal,
    ClientRedirect,
    IssuedTokens,
    OAuthDialect,
    OAuthServer,
    RefreshReply,
    TokenRefusal,
    bearer_token,
    post_or_basic_credentials,
)
from emulators.state import AccessRole, EmulatedAccount, EmulatedCalendar, EmulatedEvent, EmulatorState

T = TypeVar("T")
SCHEDULE_MAX_MAILBOXES = 20
SCHEDULE_MAX_DAYS = 62
DEFAULT_PAGE_SIZE = 10
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
WINDOWS_ZONES: Mapping[str, str] = {
    "Pacific Standard Time": "America/Los_Angeles",
    "Eastern Standard Time": "America/New_York",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
}
FAULT_ERRORS: Mapping[int, tuple[str, str]] = {
    429: ("TooManyRequests", "Too many requests. Retry after the time given in the Retry-After header."),
    500: ("ErrorInternalServerError", "An internal server error occurred. The operation failed."),
    502: ("BadGateway", "The gateway received an invalid response from the upstream server."),
    503: ("ServiceNotAvailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The gateway did not receive a timely response from the upstream server."),
}
PERMISSION_ROLES: Mapping[AccessRole, str] = {
    AccessRole.FREE_BUSY: "freeBusyRead",
    AccessRole.READER: "read",
    AccessRole.WRITER: "write",
}


class GraphError(Exception):
    """Raised inside a handler; rendered as Graph's {"error": {code, message, innerError}} envelope."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def graph_error_response(error: GraphError) -> JSONResponse:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat()
    request_id = str(uuid.uuid4())
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {"date": now, "request-id": request_id, "client-request-id": request_id},
        }
    }
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def aad_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    """The identity platform's token error body."""
    trace = str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return JSONResponse(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nTimestamp: {now}",
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        },
        status_code=status,
    )


def graph_datetime(moment: datetime) -> dict[str, str]:
    wall = moment.astimezone(UTC).isoformat()[:19]  # whole seconds, without the "+00:00"
    return {"dateTime": f"{wall}.0000000", "timeZone": "UTC"}


def parse_time_zone(name: str) -> ZoneInfo | timezone:
    if not name or name.upper() in {"UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"}:
        return UTC
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.",
        ) from exc


def parse_date_time_time_zone(value: object) -> datetime:
    if not isinstance(value, Mapping) or not value.get("dateTime"):
        raise GraphError(400, "ErrorInvalidRequest", "A dateTimeTimeZone value is missing or malformed.")
    text = str(value["dateTime"]).replace("Z", "")
    if "." in text:
        whole, fraction = text.split(".", 1)
        text = f"{whole}.{fraction[:6]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidRequest", f"Cannot convert '{value['dateTime']}' to a date.") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=parse_time_zone(str(value.get("timeZone") or "UTC")))
    return parsed.astimezone(UTC)


def parse_query_datetime(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidParameter", f"The value '{value}' is not a valid DateTime.") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def availability_view(events: list[EmulatedEvent], start: datetime, end: datetime, interval: int) -> str:
    """One digit per `interval` minutes from `start`: "2" where a busy event overlaps the slot, else "0".

    Each event marks its own range of slots (linear in events + slots, not their product).
    """
    step = timedelta(minutes=interval)
    slots = math.ceil((end - start) / step)
    view = ["0"] * slots
    for event in events:
        if not event.busy or event.end <= start or event.start >= end:
            continue
        first = max(0, (event.start - start) // step)
        last = min(slots, -((start - event.end) // step))  # ceil((event.end - start) / step)
        view[first:last] = ["2"] * max(0, last - first)
    return "".join(view)


def lower_keys(body: object) -> dict[str, object]:
    """Graph reads JSON property names case-insensitively ("Schedules" and "schedules" both work)."""
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    return {str(k).lower(): v for k, v in body.items()}


Handler = Callable[[Request, EmulatedAccount], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class MicrosoftOAuth(OAuthDialect):
    """The Microsoft identity platform v2 (login.microsoftonline.com/{tenant}) as OAuthServer speaks it.

    An unknown client or a bad redirect URI is answered with the AADSTS JSON error; every other refusal
    goes back to the client as error + error_description (also in the fragment for response_mode=fragment).
    Every code brings a refresh token and a refresh echoes the refresh token it was given.
    """

    authorize_path = "/{tenant}/oauth2/v2.0/authorize"
    token_path = "/{tenant}/oauth2/v2.0/token"
    fragment_response_mode = True
    refresh_reply = RefreshReply.SAME
    redirect_errors: Mapping[AuthorizeRefusal, tuple[str, str]] = {
        AuthorizeRefusal.RESPONSE_TYPE: (
            "unsupported_response_type",
            "AADSTS700054: response_type 'code' is expected for this flow.",
        ),
        AuthorizeRefusal.CHALLENGE_METHOD: (
            "invalid_request",
            "AADSTS501491: Invalid size of Code_Challenge parameter.",
        ),
        AuthorizeRefusal.CODE_CHALLENGE: (
            "invalid_request",
            "AADSTS501481: The Code_Challenge parameter is missing.",
        ),
        AuthorizeRefusal.CONSENT_DENIED: (
            "access_denied",
            "AADSTS65004: User declined to consent to access the app.",
        ),
    }

    def redirect_uri_allowed(self, uri: str) -> bool:
        return uri.startswith(("http://", "https://"))

    def issues_refresh_token(self, query: QueryParams) -> bool:
        return True

    def client_credentials(self, request: Request, form: Mapping[str, str]) -> tuple[str, str]:
        return post_or_basic_credentials(request, form)

    def refuse_client(self, client_id: str) -> Response:
        return self.refuse_token(TokenRefusal.UNKNOWN_CLIENT, client_id)

    def refuse_redirect_uri(self, redirect_uri: str) -> Response:
        return aad_error(
            400,
            "invalid_request",
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
            "URIs configured for the application.",
        )

    def refuse_authorization(self, refusal: AuthorizeRefusal, query: QueryParams, back: ClientRedirect) -> Response:
        if refusal is AuthorizeRefusal.UNKNOWN_USER:
            hint = query.get("login_hint")
            description = f"AADSTS50034: The user account {hint or ''} does not exist in the directory."
            return back({"error": "access_denied", "error_description": description})
        error, description = self.redirect_errors[refusal]
        return back({"error": error, "error_description": description})

    def granted(self, code: str, scope: str, query: QueryParams) -> dict[str, str | None]:
        return {"code": code, "session_state": str(uuid.uuid4())}

    def missing_parameter(self, name: str) -> None:
        return None  # a missing code or refresh token is an invalid one, a missing grant_type an unsupported one

    def refuse_token(self, refusal: TokenRefusal, value: str | None) -> Response:
        if refusal in (TokenRefusal.NO_CLIENT, TokenRefusal.UNKNOWN_CLIENT):
            return aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{value}' was not found in the directory.",
            )
        if refusal is TokenRefusal.CLIENT_SECRET:
            return aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                "secret value, not the client secret ID.",
            )
        if refusal is TokenRefusal.CODE:
            return aad_error(
                400,
                "invalid_grant",
                70000,
                "The provided authorization code or code verifier is invalid, expired, already "
                "redeemed, or issued for another client or redirect URI.",
            )
        if refusal is TokenRefusal.REFRESH_TOKEN:
            return aad_error(
                400,
                "invalid_grant",
                70000,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
                "The user might have changed or reset their password.",
            )
        return aad_error(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{value}'.",
        )

    def token_body(self, tokens: IssuedTokens, scope: str) -> dict[str, object]:
        body: dict[str, object] = {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": tokens.expires_in,
            "ext_expires_in": tokens.expires_in,
            "access_token": tokens.access_token,
        }
        if tokens.refresh_token is not None:
            body["refresh_token"] = tokens.refresh_token
        return body


class _MicrosoftEmulator:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.calls: Counter[str] = Counter()
        self.event_properties = self._event_properties()

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
        if code is None:
            return
        name, message = FAULT_ERRORS.get(code, ("UnknownError", f"Injected failure {code}."))
        headers = {}
        if code in (429, 503):
            headers["Retry-After"] = str(self.state.faults.retry_after_seconds)
        raise GraphError(code, name, message, headers)

    def _caller(self, request: Request) -> EmulatedAccount:
        token = bearer_token(request)
        challenge = {
            "WWW-Authenticate": (
                'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                f'oauth2/authorize", client_id="{GRAPH_APP_ID}"'
            )
        }
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

    @staticmethod
    def _graph_root(request: Request) -> str:
        url = str(request.url)
        return url[: url.index("/v1.0/") + len("/v1.0")]

    def _odata(self, request: Request, fragment: str) -> str:
        return f"{self._graph_root(request)}/$metadata#{fragment}"

    @staticmethod
    def _page(request: Request, items: Sequence[T]) -> tuple[Sequence[T], str | None]:
        try:
            top = int(request.query_params.get("$top", DEFAULT_PAGE_SIZE))
            skip = int(request.query_params.get("$skip", 0))
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Invalid $top or $skip value.") from exc
        top = max(1, min(top, 1000))
        page = items[skip : skip + top]
        if skip + top >= len(items):
            return page, None
        query = dict(request.query_params)
        query["$skip"] = str(skip + top)
        query["$top"] = str(top)
        return page, f"{str(request.url).split('?', 1)[0]}?{urlencode(query)}"

    @staticmethod
    def _selection(request: Request) -> list[str] | None:
        """The `$select` properties (Graph also accepts `select`), or None for the full resource."""
        raw = request.query_params.get("$select") or request.query_params.get("select")
        if not raw:
            return None
        return [name.strip() for name in raw.split(",") if name.strip()]

    @staticmethod
    def _selected(items: list[dict[str, object]], selection: list[str] | None) -> list[dict[str, object]]:
        """As Graph answers a `$select`: the etag and id, plus the requested properties (names case-insensitive)."""
        if selection is None or not items:
            return items
        by_lower = {key.lower(): key for key in items[0]}
        kept: list[str] = [key for key in ("@odata.etag", "id") if key in by_lower]
        kept += [by_lower[name.lower()] for name in selection if name.lower() in by_lower]
        return [{key: item[key] for key in kept} for item in items]

    def _collection(
        self,
        request: Request,
        fragment: str,
        items: Sequence[T],
        render: Callable[[T], dict[str, object]],
    ) -> JSONResponse:
        """One page of `items`, rendered (only the page, not the whole collection) and `$select`ed."""
        selected, next_link = self._page(request, items)
        selection = self._selection(request)
        page = self._selected([render(item) for item in selected], selection)
        if selection is not None:
            fragment = f"{fragment}({','.join(selection)})"
        body: dict[str, object] = {"@odata.context": self._odata(request, fragment), "value": page}
        if next_link:
            body["@odata.nextLink"] = next_link
        return JSONResponse(body)

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
        owner = self.state.account(calendar.owner_email)
        owned = role is AccessRole.OWNER
        is_default = owned and calendar.id == caller.primary_calendar_id
        return {
            "id": calendar.id,
            "name": calendar.name,
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": is_default,
            "changeKey": f"{calendar.id[-8:]}==",
            "canShare": owned,
            "canViewPrivateItems": owned,
            "canEdit": role in (AccessRole.OWNER, AccessRole.WRITER),
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": is_default,
            "isRemovable": not is_default,
            "owner": {
                "name": owner.name if owner else calendar.owner_email,
                "address": owner.email if owner else calendar.owner_email,
            },
        }

    def _event_json(self, event: EmulatedEvent) -> dict[str, object]:
        return {name: render(event) for name, render in self.event_properties.items()}

    def _event_renderer(self, selection: list[str] | None) -> Callable[[EmulatedEvent], dict[str, object]]:
        """Renders events; with a `$select`, only the etag, id and selected properties are built."""
        if selection is None:
            return self._event_json
        wanted = {name.lower() for name in selection} | {"@odata.etag", "id"}
        chosen = [(name, render) for name, render in self.event_properties.items() if name.lower() in wanted]
        return lambda event: {name: render(event) for name, render in chosen}

    def _organizer(self, event: EmulatedEvent) -> dict[str, object]:
        calendar = self.state.calendars[event.calendar_id]
        organizer = self.state.account(calendar.owner_email)
        return {
            "emailAddress": {
                "name": organizer.name if organizer else calendar.owner_email,
                "address": organizer.email if organizer else calendar.owner_email,
            }
        }

    def _event_properties(self) -> dict[str, Callable[[EmulatedEvent], object]]:
        """Graph event properties in the order Graph writes them, each with how to render it."""
        return {
            "@odata.etag": lambda e: f'W/"{e.id[-8:]}"',
            "id": lambda e: e.id,
            "subject": lambda e: e.summary,
            "bodyPreview": lambda e: (e.description or "")[:255],
            "body": lambda e: {"contentType": "text", "content": e.description or ""},
            "start": lambda e: graph_datetime(e.start),
            "end": lambda e: graph_datetime(e.end),
            "isAllDay": lambda e: False,
            "isCancelled": lambda e: e.cancelled,
            "showAs": lambda e: "busy" if e.busy else "free",
            "type": lambda e: "singleInstance",
            "attendees": lambda e: [
                {
                    "type": "required",
                    "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                    "emailAddress": {"name": address, "address": address},
                }
                for address in e.attendees
            ],
            "organizer": self._organizer,
        }

    def _find_event(self, caller: EmulatedAccount, event_id: str) -> EmulatedEvent:
        for calendar, role in self.state.visible_calendars(caller.email):
            if role is not AccessRole.FREE_BUSY and event_id in calendar.events:
                return calendar.events[event_id]
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    # Graph: user and calendars -------------------------------------------------
    async def me(self, request: Request, caller: EmulatedAccount) -> Response:
        return JSONResponse(
            {
                "@odata.context": self._odata(request, "users/$entity"),
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, caller.email)),
                "displayName": caller.name,
                "mail": caller.email,
                "userPrincipalName": caller.email,
            }
        )

    async def list_calendars(self, request: Request, caller: EmulatedAccount) -> Response:
        items = [
            self._calendar_json(calendar, role, caller)
            for calendar, role in self.state.visible_calendars(caller.email)
        ]
        return self._collection(request, "users('me')/calendars", items, dict)

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
            raise GraphError(
                404, "ErrorInvalidUser", f"The requested user '{request.path_params['user']}' is invalid."
            )
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
        return self._collection(
            request, f"users('me')/calendars('{calendar_id}')/calendarPermissions", items, dict
        )

    async def create_calendar(self, request: Request, caller: EmulatedAccount) -> Response:
        body = lower_keys(await request.json())
        name = str(body.get("name") or "").strip()
        if not name:
            raise GraphError(400, "ErrorInvalidParameter", "The folder name must be specified.")
        if any(
            c.name.lower() == name.lower() and c.owner_email == caller.email
            for c in self.state.calendars.values()
        ):
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        calendar = self.state.add_calendar(caller.email, name)
        return JSONResponse(self._calendar_json(calendar, AccessRole.OWNER, caller), status_code=201)

    # Graph: free/busy ----------------------------------------------------------
    async def get_schedule(self, request: Request, caller: EmulatedAccount) -> Response:
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
            raise GraphError(
                400, "ErrorInvalidTimeInterval", "The start date must be earlier than the end date."
            )
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
            raise GraphError(
                400, "ErrorInvalidParameter", "availabilityViewInterval must be between 5 and 1440."
            )
        value = [self._schedule_information(caller, str(s), start, end, interval) for s in schedules]
        return JSONResponse(
            {
                "@odata.context": self._odata(request, "Collection(microsoft.graph.scheduleInformation)"),
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
        events = sorted(
            (
                e
                for e in self.state.calendars[calendar_id].events.values()
                if not e.cancelled and e.start < end and e.end > start
            ),
            key=lambda e: e.start,
        )
        items: list[dict[str, object]] = []
        for event in events:
            item: dict[str, object] = {
                "isPrivate": False,
                "status": "busy" if event.busy else "free",
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
        events = sorted(
            (e for e in calendar.events.values() if e.start < end and e.end > start),
            key=lambda e: (e.start, e.id),
        )
        return self._collection(
            request,
            f"users('me')/calendars('{calendar.id}')/calendarView",
            events,
            self._event_renderer(self._selection(request)),
        )

    # Graph: events ---------------------------------------------------------------
    async def list_events(self, request: Request, caller: EmulatedAccount) -> Response:
        calendar = self._readable(caller, request.path_params["calendar_id"])
        events = sorted(calendar.events.values(), key=lambda e: (e.start, e.id))
        return self._collection(
            request,
            f"users('me')/calendars('{calendar.id}')/events",
            events,
            self._event_renderer(self._selection(request)),
        )

    @staticmethod
    def _attendees(body: Mapping[str, object]) -> list[str]:
        attendees = body.get("attendees") or []
        if not isinstance(attendees, list):
            raise GraphError(400, "ErrorInvalidRequest", "attendees must be a collection.")
        addresses: list[str] = []
        for attendee in attendees:
            email = attendee.get("emailAddress") if isinstance(attendee, dict) else None
            if not isinstance(email, dict) or not email.get("address"):
                raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
            addresses.append(str(email["address"]))
        return addresses

    @staticmethod
    def _description(body: Mapping[str, object]) -> str | None:
        content = body.get("body")
        if isinstance(content, dict):
            return str(content.get("content") or "") or None
        return None

    async def create_event(self, request: Request, caller: EmulatedAccount) -> Response:
        calendar = self._writable(caller, request.path_params["calendar_id"])
        body = lower_keys(await request.json())
        start = parse_date_time_time_zone(body.get("start"))
        end = parse_date_time_time_zone(body.get("end"))
        if end < start:
            raise GraphError(400, "ErrorInvalidRequest", "The end time must not be before the start time.")
        attendees = self._attendees(body)
        show_as = str(body.get("showas") or "busy")
        event = self.state.add_event(
            calendar.id,
            start,
            end,
            str(body.get("subject") or ""),
            attendees=attendees,
            description=self._description(body),
            busy=show_as not in ("free", "workingElsewhere"),
            invitations_sent=bool(attendees),
        )
        return JSONResponse(self._event_json(event), status_code=201)

    async def get_event(self, request: Request, caller: EmulatedAccount) -> Response:
        return JSONResponse(self._event_json(self._find_event(caller, request.path_params["event_id"])))

    async def update_event(self, request: Request, caller: EmulatedAccount) -> Response:
        event = self._find_event(caller, request.path_params["event_id"])
        self._writable(caller, event.calendar_id)
        body = lower_keys(await request.json())
        with self.state.lock:
            if "subject" in body:
                event.summary = str(body["subject"] or "")
            if "body" in body:
                event.description = self._description(body)
            if "start" in body:
                event.start = parse_date_time_time_zone(body["start"])
            if "end" in body:
                event.end = parse_date_time_time_zone(body["end"])
            if "showas" in body:
                event.busy = str(body["showas"]) not in ("free", "workingElsewhere")
            if "attendees" in body:
                event.attendees = self._attendees(body)
                event.invitations_sent = event.invitations_sent or bool(event.attendees)
        return JSONResponse(self._event_json(event))

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
