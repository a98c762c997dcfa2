"""Google OAuth 2.0, OpenID Connect userinfo and Calendar API v3, served from the shared EmulatorState.

Paths are the real hosts' paths relative to the mount root (accounts.google.com `/o/oauth2/v2/auth`,
oauth2.googleapis.com `/token`, openidconnect.googleapis.com `/v1/userinfo`, www.googleapis.com
`/calendar/v3/...`), so the provider works against Google by changing only its base URLs.
`app.state.calls` counts requests per API method (`freebusy.query`, `calendarList.list`, ...).
The handlers are here; what goes over the wire (errors, resources, parsing, the OAuth dialect) is in
emulators/google_wire.py, the OAuth endpoints are emulators/oauth.py's.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.google_push import Channel, GooglePush, resource_id_for
from emulators.google_wire import (
    EVENT_ID_PATTERN,
    BadRequest,
    GoogleOAuth,
    SyncToken,
    api_error,
    attendee_emails,
    auth_error,
    calendar_list_entry,
    calendar_resource,
    cancelled_resource,
    event_etag,
    event_resource,
    event_zone_name,
    events_page_token,
    fault_response,
    fullsync_required,
    instance_id,
    is_all_day,
    merged_busy,
    not_found,
    page_offset,
    page_token,
    parse_event_time,
    parse_events_page_token,
    parse_rfc3339,
    parse_sync_token,
    parse_zone,
    rfc3339,
    sync_token,
    userinfo_claims,
    userinfo_refused,
)
from emulators.lost_answer import deliver
from emulators.oauth import OAuthServer, bearer_token
from emulators.state import AccessRole, EmulatedCalendar, EmulatedEvent, EmulatorState, expand_series

FREEBUSY_MAX_ITEMS = 50
FREEBUSY_MAX_RANGE = timedelta(days=90)
CALENDAR_LIST_DEFAULT_PAGE = 100
CALENDAR_LIST_MAX_PAGE = 250
WRITE_ROLES = frozenset({AccessRole.OWNER, AccessRole.WRITER})
READ_ROLES = frozenset({AccessRole.OWNER, AccessRole.WRITER, AccessRole.READER})

EVENTS_DEFAULT_PAGE = 250
EVENTS_MAX_PAGE = 2500
SERIES_HORIZON = timedelta(days=366)
SYNC_INCOMPATIBLE = (
    "timeMin",
    "timeMax",
    "q",
    "orderBy",
    "iCalUID",
    "updatedMin",
    "privateExtendedProperty",
    "sharedExtendedProperty",
)
"""Parameters Google refuses beside a syncToken (the token already fixes what is listed)."""
CHANNEL_ID_MAX = 64
CHANNEL_ID_PATTERN = re.compile(r"[A-Za-z0-9\-_+/=]+")
PROJECT = "meetgraph-emulator"


def events_page_size(value: str | None) -> int:
    """maxResults: 250 by default, at most 2500 (more is served as 2500, as Google does)."""
    if value is None:
        return EVENTS_DEFAULT_PAGE
    try:
        size = int(value)
    except ValueError as exc:
        raise BadRequest("invalid", f"Invalid value for maxResults: {value}") from exc
    if size < 1:
        raise BadRequest("invalid", f"Invalid value for maxResults: {value}")
    return min(size, EVENTS_MAX_PAGE)


def requested_ttl(body: dict[str, object], now: datetime) -> timedelta | None:
    """The lifetime asked for: params.ttl (seconds) or an absolute `expiration` (ms since the epoch)."""
    if body.get("expiration") is not None:
        try:
            expiration = datetime.fromtimestamp(int(str(body["expiration"])) / 1000, UTC)
        except (ValueError, OverflowError) as exc:
            raise BadRequest("invalid", f"Invalid value for expiration: {body['expiration']}") from exc
        return expiration - now
    params = body.get("params")
    if isinstance(params, dict) and params.get("ttl") is not None:
        try:
            return timedelta(seconds=int(str(params["ttl"])))
        except ValueError as exc:
            raise BadRequest("invalid", f"Invalid value for ttl: {params['ttl']}") from exc
    return None


def replace_id(event: EmulatedEvent, new_id: str) -> EmulatedEvent:
    return replace(event, id=new_id)


ListedItem = tuple[list[object], Callable[[], dict[str, object]]]
"""An item of a listing: its sort key (what a page token continues after) and how to render it (only the page's
items are rendered)."""

Handler = Callable[[Request, str], Awaitable[Response]]


class GoogleEmulator:
    """The request handlers; one instance per app, all data in the shared EmulatorState."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.calls: Counter[str] = Counter()
        self.push = GooglePush(state)
        self.instances: dict[str, dict[str, tuple[datetime, datetime]]] = {}
        """Per series: every instance a listing showed, with its times (what a client may hold), so that a delta
        can cancel the instances a changed series no longer has."""

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

    def render_event(self, event: EmulatedEvent, caller: str, series_id: str | None = None) -> dict[str, object]:
        return event_resource(event, self.state.calendars[event.calendar_id].owner_email, caller, series_id=series_id)

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
        """events.list: a listing (optionally a window, instances of series with singleEvents) or, with syncToken,
        what changed since the token; pages of at most maxResults, nextSyncToken on the last."""
        calendar = self.calendar_for(request, email, READ_ROLES)
        if isinstance(calendar, Response):
            return calendar
        query = request.query_params
        size = events_page_size(query.get("maxResults"))
        raw_sync = query.get("syncToken")
        if raw_sync is not None:
            refused = [name for name in SYNC_INCOMPATIBLE if name in query]
            if refused:
                raise BadRequest("invalid", f"The syncToken parameter cannot be combined with {refused[0]}.")
            if query.get("showDeleted") == "false":
                raise BadRequest(
                    "invalid", "Deleted events are always listed with a syncToken: showDeleted=false is not allowed."
                )
            token = parse_sync_token(raw_sync)
            if (
                token is None
                or token.calendar_id != calendar.id
                or not self.state.sync_state_valid(calendar.id, token.seq)
            ):
                return fullsync_required()
            fingerprint = f"sync:{raw_sync}"
        else:
            single = query.get("singleEvents") == "true"
            time_min = parse_rfc3339(query["timeMin"], "timeMin") if "timeMin" in query else None
            time_max = parse_rfc3339(query["timeMax"], "timeMax") if "timeMax" in query else None
            if time_min is not None and time_max is not None and time_max <= time_min:
                raise BadRequest("timeRangeEmpty", "The specified time range is empty.")
            if query.get("orderBy") == "startTime" and not single:
                raise BadRequest("invalid", "The requested ordering is not available for the particular query.")
            token = SyncToken(calendar.id, 0, single, time_min, time_max)
            fingerprint = "list:" + "&".join(
                f"{k}={v}" for k, v in sorted(query.multi_items()) if k not in ("pageToken", "maxResults")
            )
        after: list[object] | None = None
        issued = self.state.current_seq()
        if "pageToken" in query:
            after, issued = parse_events_page_token(query["pageToken"], fingerprint)
        if raw_sync is not None:
            items = self.changes(calendar, token, issued, email)
        else:
            items = self.listing(calendar, token, query.get("showDeleted") == "true", email)
        remaining = [(key, render) for key, render in items if after is None or key > after]
        page = remaining[:size]
        body: dict[str, object] = {
            "kind": "calendar#events",
            "etag": f'"{3_000_000_000_000_000 + issued}"',
            "summary": calendar.name,
            "updated": rfc3339(self.state.clock()),
            "timeZone": calendar.timezone,
            "accessRole": (self.state.role(email, calendar.id) or AccessRole.READER).value,
            "defaultReminders": [],
            "items": [render() for _, render in page],
        }
        if len(remaining) > size:
            body["nextPageToken"] = events_page_token(page[-1][0], issued, fingerprint)
        else:
            body["nextSyncToken"] = sync_token(
                SyncToken(calendar.id, issued, token.single_events, token.time_min, token.time_max)
            )
        return JSONResponse(body)

    def expanded(self, event: EmulatedEvent, token: SyncToken) -> list[tuple[EmulatedEvent, str | None]]:
        """The event as the listing shows it: itself, or with singleEvents a series' instances in the window (each
        with its series' id); an unbounded series is expanded up to a year ahead when no timeMax bounds it."""
        if event.recurrence is None or not token.single_events:
            return [(event, None)]
        start = token.time_min or datetime.min.replace(tzinfo=UTC)
        end = token.time_max or self.state.clock() + SERIES_HORIZON
        shown: list[tuple[EmulatedEvent, str | None]] = [
            (replace_id(o, instance_id(event.id, o.start, all_day=event.all_day)), event.id)
            for o in expand_series(event, end)
            if o.end > start
        ]
        with self.state.lock:
            known = self.instances.setdefault(event.id, {})
            known.update((instance.id, (instance.start, instance.end)) for instance, _ in shown)
        return shown

    def vanished_instances(self, series: EmulatedEvent, token: SyncToken, current: set[str]) -> list[str]:
        """Instances of the series listed before (in the token's window) that it no longer has: a series moved or
        shortened, whose instances' ids (from their original starts) are gone."""
        with self.state.lock:
            known = dict(self.instances.get(series.id, {}))
        return sorted(
            instance
            for instance, (start, end) in known.items()
            if instance not in current
            and (token.time_min is None or end > token.time_min)
            and (token.time_max is None or start < token.time_max)
        )

    def listing(self, calendar: EmulatedCalendar, token: SyncToken, show_deleted: bool, email: str) -> list[ListedItem]:
        """A full listing, by start then id (the page token's key)."""
        with self.state.lock:
            events = list(calendar.events.values())
        found: list[ListedItem] = []
        for event in events:
            if event.cancelled and not show_deleted:
                continue
            for shown, series in self.expanded(event, token):
                if (token.time_min is not None and shown.end <= token.time_min) or (
                    token.time_max is not None and shown.start >= token.time_max
                ):
                    continue
                found.append(
                    ([shown.start.isoformat(), shown.id], functools.partial(self.render_event, shown, email, series))
                )
        return sorted(found, key=lambda item: item[0])

    def changes(self, calendar: EmulatedCalendar, token: SyncToken, issued: int, email: str) -> list[ListedItem]:
        """What changed after the token's number up to `issued` (the listing's first page), by change then id;
        deleted events (and every instance of a deleted series) as their id and status only."""
        found: list[ListedItem] = []
        for event in self.state.changed_since(calendar.id, token.seq):
            if event.seq > issued:
                continue
            instances = self.expanded(event, token)
            for shown, series in instances:
                key: list[object] = [event.seq, shown.id]
                if event.cancelled:
                    found.append((key, functools.partial(cancelled_resource, shown.id, event_etag(event))))
                else:
                    found.append((key, functools.partial(self.render_event, shown, email, series)))
            if event.recurrence is not None and token.single_events:
                for gone in self.vanished_instances(event, token, {shown.id for shown, _ in instances}):
                    found.append(([event.seq, gone], functools.partial(cancelled_resource, gone, event_etag(event))))
        return sorted(found, key=lambda item: item[0])

    async def events_watch(self, request: Request, email: str) -> Response:
        """events.watch: open a web_hook channel on the calendar's events (https addresses only)."""
        calendar = self.calendar_for(request, email, READ_ROLES)
        if isinstance(calendar, Response):
            return calendar
        body = await self.json_body(request)
        channel_id, address, kind = body.get("id"), body.get("address"), body.get("type")
        if not isinstance(channel_id, str) or not channel_id:
            raise BadRequest("required", "Required")
        if len(channel_id) > CHANNEL_ID_MAX or not CHANNEL_ID_PATTERN.fullmatch(channel_id):
            raise BadRequest("invalid", f"Invalid channel id: {channel_id}")
        if kind not in ("web_hook", "webhook"):
            raise BadRequest("invalid", f"Invalid value for type: {kind}")
        if not isinstance(address, str) or not address:
            raise BadRequest("required", "Required")
        parts = urlsplit(address)
        if parts.scheme != "https" or not parts.netloc:
            raise BadRequest("push.webhookUrlNotHttps", f"WebHook callback must be HTTPS: {address}")
        token = body.get("token")
        if token is not None and not isinstance(token, str):
            raise BadRequest("invalid", "Invalid value for token")
        now = self.state.clock()
        ttl = self.push.ttl(requested_ttl(body, now))
        with self.state.lock:
            if channel_id in self.push.channels:
                raise BadRequest("channelIdNotUnique", f"Channel id {channel_id} not unique")
            channel = Channel(
                id=channel_id,
                resource_id=resource_id_for(calendar.id),
                resource_uri=f"{str(request.url).split('?')[0].removesuffix('/watch')}?alt=json",
                calendar_id=calendar.id,
                owner=email.lower(),
                address=address,
                token=token,
                expiration=now + ttl,
            )
            self.push.open(channel)
        answer: dict[str, object] = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": channel.resource_uri,
            "expiration": str(int(channel.expiration.timestamp() * 1000)),
        }
        if token is not None:
            answer["token"] = token
        return JSONResponse(answer)

    async def channels_stop(self, request: Request, email: str) -> Response:
        """channels.stop: 204, or 404 when the caller has no live channel by that id and resourceId."""
        body = await self.json_body(request)
        channel_id, resource_id = body.get("id"), body.get("resourceId")
        if not isinstance(channel_id, str) or not isinstance(resource_id, str):
            raise BadRequest("required", "Required")
        if not self.push.stop(channel_id, resource_id, email.lower()):
            return api_error(404, "notFound", f"Channel '{channel_id}' not found for project '{PROJECT}'")
        return Response(status_code=204)

    async def events_insert(self, request: Request, email: str) -> Response:
        """A client-chosen `id` must be base32hex (a-v, 0-9), 5-1024 characters, and new to the calendar: an id
        already used, also by a deleted (cancelled) event, is 409 duplicate."""
        calendar = self.calendar_for(request, email, WRITE_ROLES)
        if isinstance(calendar, Response):
            return calendar
        body = await self.json_body(request)
        await self.state.faults.hold_create()  # the request is in: the client may die now, the event is stored
        start = parse_event_time(body.get("start"), "start", calendar.timezone)
        end = parse_event_time(body.get("end"), "end", calendar.timezone)
        all_day = is_all_day(body.get("start"))
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
                timezone=calendar.timezone if all_day else event_zone_name(body.get("start")),
                all_day=all_day,
            )
        unavailable = functools.partial(fault_response, 503, self.state.faults.retry_after_seconds)
        return await deliver(self.state, JSONResponse(self.render_event(event, email)), unavailable)

    async def events_get(self, request: Request, email: str) -> Response:
        event = self.event_for(request, email, READ_ROLES)
        if isinstance(event, Response):
            return event
        return JSONResponse(self.render_event(event, email))

    async def events_update(self, request: Request, email: str) -> Response:
        """events.update (PUT) replaces the event: what the body leaves out is cleared."""
        event = self.event_for(request, email, WRITE_ROLES)
        if isinstance(event, Response):
            return event
        body = await self.json_body(request)
        if "start" not in body or "end" not in body:
            raise BadRequest("required", "Missing end time." if "start" in body else "Missing start time.")
        full = {"summary": "", "description": None, "attendees": [], "transparency": "opaque", **body}
        return await self.patch(request, event, full, email)

    async def events_patch(self, request: Request, email: str) -> Response:
        event = self.event_for(request, email, WRITE_ROLES)
        if isinstance(event, Response):
            return event
        return await self.patch(request, event, await self.json_body(request), email)

    async def patch(self, request: Request, event: EmulatedEvent, body: dict[str, object], email: str) -> Response:
        calendar_zone = self.state.calendars[event.calendar_id].timezone
        start = parse_event_time(body["start"], "start", calendar_zone) if "start" in body else event.start
        end = parse_event_time(body["end"], "end", calendar_zone) if "end" in body else event.end
        if end <= start:
            raise BadRequest("timeRangeEmpty", "The specified time range is empty.")
        all_day = is_all_day(body["start"]) if "start" in body else event.all_day
        zone = event.timezone
        if "start" in body:
            zone = calendar_zone if all_day else event_zone_name(body["start"])
        with self.state.lock:
            event.start, event.end, event.timezone, event.all_day = start, end, zone, all_day
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
        return JSONResponse(self.render_event(event, email))

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
        Route(f"{calendar}/events/watch", api("events.watch", emulator.events_watch), methods=["POST"]),
        Route("/calendar/v3/channels/stop", api("channels.stop", emulator.channels_stop), methods=["POST"]),
        Route(event, api("events.get", emulator.events_get), methods=["GET"]),
        Route(event, api("events.patch", emulator.events_patch), methods=["PATCH"]),
        Route(event, api("events.update", emulator.events_update), methods=["PUT"]),
        Route(event, api("events.delete", emulator.events_delete), methods=["DELETE"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await emulator.push.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.calls = emulator.calls
    app.state.emulator = emulator
    return app
