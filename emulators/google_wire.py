"""Google's wire format: error envelopes and pages, RFC 3339 times, page tokens, resources, its OAuth dialect.

What the Google emulator's handlers (emulators/google.py) send and parse, kept apart from what they do:
the JSON error envelope (`{"error": {"code", "message", "errors", "status"}}`), the OAuth error body and
the browser error page, calendarList / calendar / event resources, userinfo claims, and request parsing
that answers the API's 400 (BadRequest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from emulators.oauth import (
    AuthorizeRefusal,
    ClientRedirect,
    IssuedTokens,
    OAuthDialect,
    TokenRefusal,
    basic_or_post_credentials,
)
from emulators.state import AccessRole, EmulatedAccount, EmulatedCalendar, EmulatedEvent

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

EVENT_ID_PATTERN = re.compile(r"[a-v0-9]{5,1024}")
"""Client-chosen event ids: base32hex characters (RFC 2938 section 3.1.2), 5 to 1024 of them."""

BEARER_CHALLENGE = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'


class BadRequest(Exception):
    """A request the real API answers with its 400 JSON error."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# errors ------------------------------------------------------------------------
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


# times, busy periods, page tokens -------------------------------------------------
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


def parse_zone(name: object, field: str | None = None) -> ZoneInfo | None:
    """An IANA zone name; unknown ones are refused as Google does, for an event's `field` (start/end) in its words."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        if field is not None:
            raise BadRequest("invalid", f"Invalid time zone definition for {field} time.") from exc
        raise BadRequest("timeZoneInvalid", f"Invalid time zone definition: {name}") from exc


def _event_zone(value: object, field: str) -> ZoneInfo | None:
    return parse_zone(value.get("timeZone") if isinstance(value, dict) else None, field)


def event_zone_name(value: object) -> str:
    """The zone an event is kept in: its start's timeZone as written, else the calendar's (UTC here)."""
    zone = _event_zone(value, "start")
    return zone.key if zone is not None else "UTC"


def is_all_day(value: object) -> bool:
    return isinstance(value, dict) and bool(value.get("date")) and not value.get("dateTime")


def parse_event_time(value: object, field: str, calendar_zone: str = "UTC") -> datetime:
    """An event start/end: {dateTime[, timeZone]} or an all-day {date} (a midnight in the calendar's zone)."""
    if not isinstance(value, dict):
        raise BadRequest("required", f"Missing {field} time.")
    zone = _event_zone(value, field)
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
        return datetime.combine(day, time(0), tzinfo=zone or ZoneInfo(calendar_zone)).astimezone(UTC)
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


@dataclass(frozen=True)
class SyncToken:
    """What an events.list sync token remembers: the calendar, the change number it was issued at and the
    parameters of the full sync it continues (whose instances it expands, within that window)."""

    calendar_id: str
    seq: int
    single_events: bool
    time_min: datetime | None
    time_max: datetime | None


def _pack(payload: dict[str, object]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def _unpack(token: str) -> dict[str, object]:
    """The payload of an opaque token; ValueError for anything this emulator did not issue."""
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        payload = json.loads(raw)
    except (binascii.Error, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("not a token") from exc
    if not isinstance(payload, dict):
        raise ValueError("not a token")
    return payload


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value is not None else None


def sync_token(token: SyncToken) -> str:
    return "CP" + _pack(
        {
            "c": token.calendar_id,
            "s": token.seq,
            "e": token.single_events,
            "a": token.time_min.isoformat() if token.time_min else None,
            "b": token.time_max.isoformat() if token.time_max else None,
        }
    )


def parse_sync_token(value: str) -> SyncToken | None:
    """The token's content, None for garbage (which Google answers 410 like an expired token)."""
    if not value.startswith("CP"):
        return None
    try:
        payload = _unpack(value[2:])
        return SyncToken(
            calendar_id=str(payload["c"]),
            seq=int(str(payload["s"])),
            single_events=bool(payload["e"]),
            time_min=_moment(payload.get("a")),
            time_max=_moment(payload.get("b")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def events_page_token(after: list[object], issued: int, fingerprint: str) -> str:
    """The next page of a listing: the sort key of the last item sent, the change number the listing started at
    (what its nextSyncToken is issued at) and the request's parameters (another request may not use it)."""
    return _pack({"k": after, "i": issued, "f": fingerprint})


def parse_events_page_token(value: str, fingerprint: str) -> tuple[list[object], int]:
    try:
        payload = _unpack(value)
        after, issued = payload["k"], int(str(payload["i"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("invalid", "Invalid page token value.") from exc
    if payload.get("f") != fingerprint or not isinstance(after, list):
        raise BadRequest("invalid", "Invalid page token value.")
    return after, issued


def fullsync_required() -> JSONResponse:
    """410 Gone: the sync token expired (or was never valid); the client starts over with a full sync."""
    return api_error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")


def rfc1123(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


# resources ---------------------------------------------------------------------
def calendar_list_entry(calendar: EmulatedCalendar, role: AccessRole, *, primary: bool) -> dict[str, object]:
    entry: dict[str, object] = {
        "kind": "calendar#calendarListEntry",
        "etag": f'"{abs(hash((calendar.id, role.value)))}"',
        "id": calendar.id,
        "summary": calendar.name,
        "timeZone": calendar.timezone,
        "colorId": "14",
        "backgroundColor": "#9fe1e7",
        "foregroundColor": "#000000",
        "selected": True,
        "accessRole": role.value,
        "defaultReminders": [],
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }
    if primary:
        entry["primary"] = True
    return entry


def calendar_resource(calendar: EmulatedCalendar) -> dict[str, object]:
    return {
        "kind": "calendar#calendar",
        "etag": f'"{abs(hash(calendar.id))}"',
        "id": calendar.id,
        "summary": calendar.name,
        "timeZone": calendar.timezone,
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }


ROOM_DOMAIN = "@resource.calendar.google.com"
"""Google's addresses for rooms and other resources: attendees with `resource: true`."""


def event_etag(event: EmulatedEvent) -> str:
    """Changes with every change of the event (its change number, as Google's etags are numbers)."""
    return f'"{3_000_000_000_000_000 + event.seq}"'


def instance_id(series_id: str, start: datetime, *, all_day: bool) -> str:
    """A series instance's id as Google forms it: the series' id, `_`, the original start in UTC (the date only for
    an all-day series)."""
    stamp = start.astimezone(UTC).strftime("%Y%m%d" if all_day else "%Y%m%dT%H%M%SZ")
    return f"{series_id}_{stamp}"


def _event_time(event: EmulatedEvent, moment: datetime) -> dict[str, str]:
    if event.all_day:
        return {"date": moment.astimezone(event_zone_of(event)).date().isoformat()}
    return {"dateTime": rfc3339(moment), "timeZone": event.timezone}


def event_zone_of(event: EmulatedEvent) -> ZoneInfo:
    try:
        return ZoneInfo(event.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _attendee(email: str, organizer: str, caller: str | None) -> dict[str, object]:
    entry: dict[str, object] = {"email": email, "responseStatus": "needsAction"}
    if email.lower() == organizer.lower():
        entry["organizer"] = True
        entry["responseStatus"] = "accepted"
    if caller is not None and email.lower() == caller.lower():
        entry["self"] = True
    if email.lower().endswith(ROOM_DOMAIN):
        entry["resource"] = True
    return entry


def app_source(app: str) -> dict[str, str]:
    """What Google shows of the application that created an event through the API (`source`)."""
    slug = "".join(c if c.isalnum() else "-" for c in app.lower()).strip("-") or "app"
    return {"title": app, "url": f"https://{slug}.example/events"}


def event_resource(
    event: EmulatedEvent, owner: str, caller: str | None = None, *, series_id: str | None = None
) -> dict[str, object]:
    """The event as `caller` reads it (organizer.self and attendees' self flags are relative to the caller; without
    one, relative to the calendar's `owner`). `series_id`: the event is an instance of that series."""
    caller = caller or owner
    organizer = event.organizer or owner
    resource: dict[str, object] = {
        "kind": "calendar#event",
        "etag": event_etag(event),
        "id": event.id,
        "status": "cancelled" if event.cancelled else "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event.id}",
        "updated": rfc3339(event.updated or datetime(2026, 1, 1, tzinfo=UTC)),
        "summary": event.summary,
        "creator": {"email": organizer, **({"self": True} if organizer.lower() == caller.lower() else {})},
        "organizer": {"email": organizer, **({"self": True} if organizer.lower() == caller.lower() else {})},
        "start": _event_time(event, event.start),
        "end": _event_time(event, event.end),
        "iCalUID": f"{series_id or event.id}@google.com",
        "sequence": 0,
        "attendees": [_attendee(a, organizer, caller) for a in event.attendees],
        "reminders": {"useDefault": True},
        "eventType": "default",
    }
    if series_id is not None:
        resource["recurringEventId"] = series_id
        resource["originalStartTime"] = resource["start"]
    elif event.recurrence is not None:
        resource["recurrence"] = [recurrence_rule(event)]
    if event.created_by_app is not None:
        resource["source"] = app_source(event.created_by_app)
    if event.description is not None:
        resource["description"] = event.description
    resource.update(stored_status(event))
    return resource


WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def recurrence_rule(event: EmulatedEvent) -> str:
    """The series' RRULE line as Google lists it in `recurrence`."""
    rule = event.recurrence
    assert rule is not None
    parts = [f"FREQ={rule.frequency.upper()}"]
    if rule.interval > 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.weekdays:
        parts.append("BYDAY=" + ",".join(WEEKDAY_CODES[d] for d in sorted(set(rule.weekdays))))
    if rule.count is not None:
        parts.append(f"COUNT={rule.count}")
    if rule.until is not None:
        parts.append(f"UNTIL={rule.until.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    return "RRULE:" + ";".join(parts)


def cancelled_resource(event_id: str, etag: str) -> dict[str, object]:
    """A deleted event as an incremental sync (or showDeleted) lists it: no more than its id and status."""
    return {"kind": "calendar#event", "etag": etag, "id": event_id, "status": "cancelled"}


def stored_status(event: EmulatedEvent) -> dict[str, object]:
    """How Google stores the event's free/busy status: `transparency` (busy is opaque, the default, left out) and,
    for out of office and working elsewhere, the status event types Google has for them.

    Google has no "tentative" or "unknown" show-as: such events block time like busy ones (opaque). Out-of-office
    events are opaque; working-location events are always transparent (Google refuses anything else).
    """
    if event.status == "oof":
        return {
            "eventType": "outOfOffice",
            "outOfOfficeProperties": {"autoDeclineMode": "declineNone"},
        }
    if event.status == "workingElsewhere":
        return {
            "eventType": "workingLocation",
            "transparency": "transparent",
            "visibility": "public",
            "workingLocationProperties": {"type": "customLocation", "customLocation": {"label": event.summary}},
        }
    return {} if event.busy else {"transparency": "transparent"}


def userinfo_claims(account: EmulatedAccount) -> dict[str, object]:
    """The OpenID Connect userinfo answer for the account."""
    return {
        "sub": str(int(hashlib.sha256(account.email.encode()).hexdigest()[:15], 16)),
        "name": account.name,
        "given_name": account.name.split(" ")[0],
        "email": account.email,
        "email_verified": True,
    }


def userinfo_refused() -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_request", "error_description": "Invalid Credentials"},
        status_code=401,
        headers={"WWW-Authenticate": BEARER_CHALLENGE},
    )


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


# OAuth -------------------------------------------------------------------------
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
