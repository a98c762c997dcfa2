"""Microsoft's wire format: Graph and AADSTS errors, dateTimeTimeZone, OData paging and $select, resources,
request parsing, and the identity platform's OAuth dialect.

What the Office 365 emulator's handlers (emulators/microsoft.py) send and parse, kept apart from what they do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulators.oauth import (
    AuthorizeRefusal,
    ClientRedirect,
    IssuedTokens,
    OAuthDialect,
    RefreshReply,
    TokenRefusal,
    post_or_basic_credentials,
)
from emulators.state import AccessRole, EmulatedAccount, EmulatedCalendar, EmulatedEvent
from emulators.windows_zones import WINDOWS_TO_IANA, windows_id

T = TypeVar("T")
EventProperties = dict[str, Callable[[EmulatedEvent], object]]
DEFAULT_PAGE_SIZE = 10
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
WINDOWS_BY_CASEFOLD: Mapping[str, str] = {name.casefold(): name for name in WINDOWS_TO_IANA}
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

AUTH_CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
    f'oauth2/authorize", client_id="{GRAPH_APP_ID}"'
)
"""The WWW-Authenticate header of Graph's 401."""


# errors, times, bodies -----------------------------------------------------------------
class GraphError(Exception):
    """Raised inside a handler; rendered as Graph's {"error": {code, message, innerError}} envelope."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
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


def graph_datetime(moment: datetime, zone: ShownZone | None = None) -> dict[str, str]:
    """A dateTimeTimeZone as Graph writes it: wall-clock time with 7 fraction digits, in UTC unless `zone`."""
    shown = moment.astimezone(zone.rules if zone is not None else UTC)
    wall = shown.isoformat()[:19]  # whole seconds, without the offset
    return {"dateTime": f"{wall}.0000000", "timeZone": zone.name if zone is not None else "UTC"}


@dataclass(frozen=True)
class ShownZone:
    """A zone a client named (a Prefer: outlook.timezone header): times are shown in its rules, under its name."""

    name: str
    rules: ZoneInfo | timezone


def unsupported_time_zone(name: str) -> GraphError:
    return GraphError(
        400,
        "TimeZoneNotSupportedException",
        f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.",
    )


def time_zone_key(name: str) -> str:
    """The IANA key of a zone as Graph takes it: a Windows id (as Windows spells it, any case) or an IANA name;
    anything else is refused like Graph refuses it (400 TimeZoneNotSupportedException)."""
    if not name or name.upper() in {"UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"}:
        return "UTC"
    windows = WINDOWS_BY_CASEFOLD.get(name.casefold())
    if windows is not None:
        return WINDOWS_TO_IANA[windows]
    try:
        return ZoneInfo(name).key
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise unsupported_time_zone(name) from exc


def parse_time_zone(name: str) -> ZoneInfo | timezone:
    key = time_zone_key(name)
    return UTC if key == "UTC" else ZoneInfo(key)


def event_time_zone(value: object) -> str:
    """The zone an event's start (or end) dateTimeTimeZone was written in, as the IANA key the emulator keeps."""
    name = str(value.get("timeZone") or "UTC") if isinstance(value, Mapping) else "UTC"
    return time_zone_key(name)


def shown_time_zone(zone_key: str) -> str:
    """How Graph names a stored zone (originalStartTimeZone): its Windows id, else the name as written."""
    return windows_id(zone_key) or zone_key


PREFER_TIME_ZONE = re.compile(r'outlook\.timezone\s*=\s*"([^"]*)"', re.IGNORECASE)


def preferred_time_zone(request: Request) -> ShownZone | None:
    """The zone of a `Prefer: outlook.timezone="..."` header (Windows id or IANA name), refused when unknown."""
    found = PREFER_TIME_ZONE.search(request.headers.get("prefer", ""))
    if found is None:
        return None
    return ShownZone(found.group(1), parse_time_zone(found.group(1)))


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


AVAILABILITY_DIGITS: Mapping[str, str] = {
    "free": "0",
    "tentative": "1",
    "busy": "2",
    "oof": "3",
    "workingElsewhere": "4",
    "unknown": "2",
}
"""getSchedule's availabilityView digit per status (0 free, 1 tentative, 2 busy, 3 out of office, 4 working
elsewhere); an unknown status is shown busy."""
AVAILABILITY_PRECEDENCE = "04123"
"""Where events overlap, a slot shows the strongest status: digits from weakest (free, working elsewhere,
tentative, busy) to strongest (out of office)."""
SCHEDULE_STATUSES: Mapping[str, str] = {
    "free": "Free",
    "tentative": "Tentative",
    "busy": "Busy",
    "oof": "Oof",
    "workingElsewhere": "WorkingElsewhere",
    "unknown": "Unknown",
}
"""A scheduleItem's `status` as getSchedule writes it: capitalised (`"status": "Tentative"`), unlike events'
camel-case `showAs`."""


def availability_view(events: list[EmulatedEvent], start: datetime, end: datetime, interval: int) -> str:
    """One digit per `interval` minutes from `start`: the strongest status of the events overlapping the slot.

    Each event marks its own range of slots (linear in events + slots, not their product).
    """
    step = timedelta(minutes=interval)
    slots = math.ceil((end - start) / step)
    view = ["0"] * slots
    for event in events:
        if event.cancelled or event.end <= start or event.start >= end:
            continue
        digit = AVAILABILITY_DIGITS[event.status]
        first = max(0, (event.start - start) // step)
        last = min(slots, -((start - event.end) // step))  # ceil((event.end - start) / step)
        for slot in range(first, last):
            if AVAILABILITY_PRECEDENCE.index(digit) > AVAILABILITY_PRECEDENCE.index(view[slot]):
                view[slot] = digit
    return "".join(view)


def lower_keys(body: object) -> dict[str, object]:
    """Graph reads JSON property names case-insensitively ("Schedules" and "schedules" both work)."""
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    return {str(k).lower(): v for k, v in body.items()}


def parse_attendees(body: Mapping[str, object]) -> list[str]:
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


def parse_description(body: Mapping[str, object]) -> str | None:
    content = body.get("body")
    if isinstance(content, dict):
        return str(content.get("content") or "") or None
    return None


# OData ---------------------------------------------------------------------------------
def graph_root(request: Request) -> str:
    """The Graph base URL the request came to (wherever the emulator is mounted), up to /v1.0."""
    url = str(request.url)
    return url[: url.index("/v1.0/") + len("/v1.0")]


def odata_context(request: Request, fragment: str) -> str:
    return f"{graph_root(request)}/$metadata#{fragment}"


def odata_page(request: Request, items: Sequence[T]) -> tuple[Sequence[T], str | None]:
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


def odata_select(request: Request) -> list[str] | None:
    """The `$select` properties (Graph also accepts `select`), or None for the full resource."""
    raw = request.query_params.get("$select") or request.query_params.get("select")
    if not raw:
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]


def apply_select(items: list[dict[str, object]], selection: list[str] | None) -> list[dict[str, object]]:
    """As Graph answers a `$select`: the etag and id, plus the requested properties (names case-insensitive)."""
    if selection is None or not items:
        return items
    by_lower = {key.lower(): key for key in items[0]}
    kept: list[str] = [key for key in ("@odata.etag", "id") if key in by_lower]
    kept += [by_lower[name.lower()] for name in selection if name.lower() in by_lower]
    return [{key: item[key] for key in kept} for item in items]


def odata_collection(
    request: Request,
    fragment: str,
    items: Sequence[T],
    render: Callable[[T], dict[str, object]],
) -> JSONResponse:
    """One page of `items`, rendered (only the page, not the whole collection) and `$select`ed."""
    selected, next_link = odata_page(request, items)
    selection = odata_select(request)
    page = apply_select([render(item) for item in selected], selection)
    if selection is not None:
        fragment = f"{fragment}({','.join(selection)})"
    body: dict[str, object] = {"@odata.context": odata_context(request, fragment), "value": page}
    if next_link:
        body["@odata.nextLink"] = next_link
    return JSONResponse(body)


# resources -----------------------------------------------------------------------------
def calendar_resource(
    calendar: EmulatedCalendar, role: AccessRole, caller: EmulatedAccount, owner: EmulatedAccount | None
) -> dict[str, object]:
    """A calendar as `caller` sees it in /me/calendars; `owner` is the owner's account, if it exists."""
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


def event_properties(organizer: Callable[[EmulatedEvent], object]) -> EventProperties:
    """Graph event properties in the order Graph writes them, each with how to render it."""
    return {
        "@odata.etag": lambda e: f'W/"{change_key(e)}"',
        "id": lambda e: e.id,
        "changeKey": change_key,
        "subject": lambda e: e.summary,
        "bodyPreview": lambda e: (e.description or "")[:255],
        "body": lambda e: {"contentType": "text", "content": e.description or ""},
        "start": lambda e: graph_datetime(e.start),
        "end": lambda e: graph_datetime(e.end),
        "originalStartTimeZone": lambda e: shown_time_zone(e.timezone),
        "originalEndTimeZone": lambda e: shown_time_zone(e.timezone),
        "isAllDay": lambda e: e.all_day,
        "isCancelled": lambda e: e.cancelled,
        "showAs": lambda e: e.status,
        "type": event_type,
        "seriesMasterId": lambda e: e.occurrence_of,
        "attendees": lambda e: [
            {
                "type": "required",
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                "emailAddress": {"name": address, "address": address},
            }
            for address in e.attendees
        ],
        "organizer": organizer,
    }


def change_key(event: EmulatedEvent) -> str:
    """Graph's changeKey (and the etag's value): a new one after every change of the event (its series' for an
    occurrence)."""
    return base64.b64encode(f"{event.id[-6:]}:{event.seq}".encode()).decode()


def event_type(event: EmulatedEvent) -> str:
    if event.occurrence_of is not None:
        return "occurrence"
    return "seriesMaster" if event.recurrence is not None else "singleInstance"


def event_renderer(
    properties: EventProperties, selection: list[str] | None
) -> Callable[[EmulatedEvent], dict[str, object]]:
    """Renders events; with a `$select`, only the etag, id and selected properties are built."""
    if selection is None:
        return lambda event: {name: render(event) for name, render in properties.items()}
    wanted = {name.lower() for name in selection} | {"@odata.etag", "id"}
    chosen = [(name, render) for name, render in properties.items() if name.lower() in wanted]
    return lambda event: {name: render(event) for name, render in chosen}


# OAuth ---------------------------------------------------------------------------------
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


# delta queries -------------------------------------------------------------------------
PAGE_SIZE_CAP = 1000
PREFER_MAX_PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


def preferred_page_size(request: Request, default: int = DEFAULT_PAGE_SIZE) -> int:
    """The page size of a `Prefer: odata.maxpagesize=N` header (Graph's way to size delta pages; `$top` is not
    honoured there), else Graph's default."""
    found = PREFER_MAX_PAGE_SIZE.search(request.headers.get("prefer", ""))
    if found is None:
        return default
    return max(1, min(int(found.group(1)), PAGE_SIZE_CAP))


@dataclass(frozen=True)
class DeltaToken:
    """What a $skiptoken / $deltatoken encodes: the round's calendar view (owner, calendar, window) and where it is.

    kind "initial": a page of the first round, after key `after` ((start, id)), listing the view as it is now;
    kind "changes": a page of a later round, changes in (since, until], after key `after` ((seq, id));
    kind "delta": a deltaLink, changes after `since` still to be asked for."""

    kind: str
    caller: str
    calendar_id: str
    start: datetime
    end: datetime
    since: int
    until: int = 0
    after: tuple[str, str] | None = None


def sync_state_invalid() -> GraphError:
    return GraphError(
        410,
        "SyncStateInvalid",
        "The sync state is invalid (it was not issued by this service, or for another request). "
        "Start a full synchronization again.",
    )


def sync_state_not_found() -> GraphError:
    return GraphError(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
    )


class DeltaTokens:
    """Opaque, signed state tokens: a client can neither read nor forge them; a garbage one answers as Graph does."""

    def __init__(self) -> None:
        self._secret = uuid.uuid4().bytes

    def _signature(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()[:24]

    def encode(self, token: DeltaToken) -> str:
        payload = json.dumps(
            {
                "k": token.kind,
                "u": token.caller,
                "c": token.calendar_id,
                "s": token.start.isoformat(),
                "e": token.end.isoformat(),
                "f": token.since,
                "t": token.until,
                "a": list(token.after) if token.after else None,
            },
            separators=(",", ":"),
        ).encode()
        return f"{base64.urlsafe_b64encode(payload).decode().rstrip('=')}.{self._signature(payload)}"

    def decode(self, text: str) -> DeltaToken:
        body, _, signature = text.partition(".")
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, TypeError) as exc:
            raise sync_state_invalid() from exc
        if not hmac.compare_digest(signature, self._signature(payload)):
            raise sync_state_invalid()
        raw = json.loads(payload)
        after = raw["a"]
        return DeltaToken(
            kind=raw["k"],
            caller=raw["u"],
            calendar_id=raw["c"],
            start=datetime.fromisoformat(raw["s"]),
            end=datetime.fromisoformat(raw["e"]),
            since=int(raw["f"]),
            until=int(raw["t"]),
            after=(str(after[0]), str(after[1])) if after else None,
        )


def removed_event(event_id: str) -> dict[str, object]:
    """How a delta reports an event deleted, cancelled or gone out of the calendar view."""
    return {"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": "deleted"}}
