"""Google Calendar API v3 behind the CalendarProvider interface."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from providers.base import (
    Attendee,
    BusyByCalendar,
    CalendarAccessLost,
    CalendarProvider,
    EventDraft,
    ProviderAuthError,
    ProviderCalendar,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailable,
    PushUnsupported,
    SyncBatch,
    SyncCursorExpired,
    SyncedEvent,
    UnsupportedOperation,
    Watch,
)
from providers.http import RATE_LIMIT_REASONS, RetryPolicy, send_authorized
from providers.intervals import chunks, merge_intervals, time_windows
from providers.oauth import OAuthClientConfig, TokenManager
from providers.windows_zones import iana_zone
from scheduling.calendars import AccessRole
from scheduling.free_busy import blocks_time
from scheduling.slots import BusyInterval

GOOGLE_SCOPES = ("openid", "email", "https://www.googleapis.com/auth/calendar")
FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_WINDOW = timedelta(days=90)
CALENDAR_LIST_PAGE_SIZE = 250
LOST_ACCESS_REASONS = frozenset({"notFound", "forbidden", "accessDenied"})
TRANSIENT_REASONS = frozenset({"internalError", "backendError"})
ROLES: Mapping[str, AccessRole] = {role.value: role for role in AccessRole}
SYNC_PAGE_SIZE = 2500
"""events.list's largest page: a full sync of a busy calendar in as few requests as Google allows."""
PUSH_REFUSALS = frozenset({"push.webhookUrlNotHttps", "pushNotSupportedForRequestedResource"})
"""events.watch refusals that mean this calendar cannot be pushed to this address: it is polled instead."""
INTEGRATION_EVENT_TYPES = frozenset({"fromGmail"})
"""Event types Google's own integrations create (reservations found in Gmail)."""
KEY_ID_LENGTH = 26

FreeBusyAnswer = tuple[dict[str, list[BusyInterval]], set[str], set[str]]
"""Busy spans per calendar, ids whose access is lost, ids Google failed on transiently."""


def google_oauth_config(*, client_id: str, client_secret: str, authorize_url: str, token_url: str) -> OAuthClientConfig:
    """Offline access (a refresh token) to the account's calendars and its e-mail address, with PKCE."""
    return OAuthClientConfig(
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=authorize_url,
        token_url=token_url,
        scopes=GOOGLE_SCOPES,
        authorize_params={
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        },
        use_pkce=True,
    )


def rfc3339(moment: datetime) -> str:
    """An aware datetime as an RFC 3339 UTC timestamp (`2026-12-07T09:00:00Z`)."""
    if moment.tzinfo is None:
        raise ValueError("datetimes sent to Google must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def google_error(response: httpx.Response) -> tuple[str, set[str]]:
    """The message and reasons of Google's JSON error envelope (best effort for other bodies)."""
    try:
        body = response.json()
    except ValueError:
        return f"Google answered {response.status_code}", set()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        reasons = {str(e.get("reason", "")) for e in error.get("errors", []) if isinstance(e, dict)}
        return str(error.get("message") or f"Google answered {response.status_code}"), reasons
    if isinstance(error, str):
        return str(body.get("error_description") or error), {error}
    return f"Google answered {response.status_code}", set()


def google_event_id(key: str) -> str:
    """The event id Google is asked to use for an idempotency key: base32hex (a-v, 0-9), lowercase, unpadded, of
    the key's UUID bytes (26 characters); a key that is no UUID is hashed (SHA-256, 52 characters) first."""
    try:
        raw = uuid.UUID(key).bytes
    except ValueError:
        raw = hashlib.sha256(key.encode()).digest()
    return base64.b32hexencode(raw).decode().rstrip("=").lower()


def key_of_event_id(event_id: str) -> str | None:
    """The idempotency key (a UUID) an event id was derived from by google_event_id; None for any other id."""
    if len(event_id) != KEY_ID_LENGTH:
        return None
    try:
        raw = base64.b32hexdecode(event_id.upper() + "======")
        key = str(uuid.UUID(bytes=raw))
    except (ValueError, binascii.Error):
        return None
    return key if google_event_id(key) == event_id else None


def calendar_zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def event_moment(value: object, zone: ZoneInfo) -> datetime:
    """An event's start or end: its dateTime, or for an all-day event its date's midnight in the calendar's zone."""
    if not isinstance(value, dict):
        raise ValueError("event time missing")
    if value.get("dateTime"):
        return parse_rfc3339(str(value["dateTime"]))
    return datetime.combine(date.fromisoformat(str(value["date"])), time(0), tzinfo=zone).astimezone(UTC)


def synced_event(item: Mapping[str, Any], zone: ZoneInfo) -> SyncedEvent:
    """An events.list item (not cancelled) as the sync reports it."""
    found = item.get("organizer")
    organizer: Mapping[str, Any] = found if isinstance(found, dict) else {}
    transparency = str(item.get("transparency") or "opaque")
    attendees = tuple(
        Attendee(str(a["email"]), str(a["displayName"]) if a.get("displayName") else None)
        for a in item.get("attendees") or []
        if isinstance(a, dict) and a.get("email") and not a.get("resource")
    )
    event_id = str(item["id"])
    return SyncedEvent(
        id=event_id,
        start=event_moment(item.get("start"), zone),
        end=event_moment(item.get("end"), zone),
        blocks=blocks_time("free" if transparency == "transparent" else "busy"),
        status=transparency,
        summary=str(item.get("summary") or ""),
        organizer_email=str(organizer["email"]) if organizer.get("email") else None,
        organized_by_account=organizer.get("self") is True,
        attendees=attendees,
        version=str(item["etag"]) if item.get("etag") else None,
        key=key_of_event_id(event_id),
        from_integration="source" in item or item.get("eventType") in INTEGRATION_EVENT_TYPES,
        series_id=str(item["recurringEventId"]) if item.get("recurringEventId") else None,
    )


def epoch_millis(value: object) -> datetime:
    return datetime.fromtimestamp(int(str(value)) / 1000, UTC)


def event_times(start: datetime, end: datetime, timezone: str) -> dict[str, object]:
    """An event's `start` and `end` as wall-clock times in the IANA zone (UTC when Google would not know it)."""
    zone = iana_zone(timezone)
    return {
        "start": {"dateTime": start.astimezone(zone.rules).isoformat(), "timeZone": zone.name},
        "end": {"dateTime": end.astimezone(zone.rules).isoformat(), "timeZone": zone.name},
    }


def event_body(draft: EventDraft) -> dict[str, object]:
    body: dict[str, object] = {
        "summary": draft.summary,
        **event_times(draft.start, draft.end, draft.timezone),
        "attendees": [{"email": a.email, **({"displayName": a.name} if a.name else {})} for a in draft.attendees],
    }
    if draft.description is not None:
        body["description"] = draft.description
    return body


class GoogleCalendarProvider(CalendarProvider):
    """A Google account's calendars through Calendar API v3 and the OpenID Connect userinfo endpoint."""

    SEND_UPDATES: ClassVar[Mapping[str, str]] = {"sendUpdates": "all"}

    def __init__(
        self,
        tokens: TokenManager,
        *,
        api_url: str,
        userinfo_url: str,
        retry: RetryPolicy,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.tokens = tokens
        self.api_url = api_url.rstrip("/")
        self.userinfo_url = userinfo_url
        self.retry = retry
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0))

    # plumbing ------------------------------------------------------------
    def _calendar_url(self, calendar_id: str, *rest: str) -> str:
        segments = [quote(calendar_id, safe=""), *(quote(s, safe="") for s in rest)]
        return f"{self.api_url}/calendars/{'/'.join(segments)}"

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """An authorized call; a 401 refreshes the token once, a second 401 is ProviderAuthError."""
        response = await send_authorized(self.client, self.tokens, method, url, policy=self.retry, **kwargs)
        if response.status_code == 401:
            message, _ = google_error(response)
            raise ProviderAuthError(f"Google refused the credentials: {message}")
        return response

    @staticmethod
    def _fail(response: httpx.Response) -> ProviderError:
        message, _ = google_error(response)
        if response.status_code >= 500:
            return ProviderUnavailable(f"Google is unavailable: {message}")
        return ProviderRequestError(message)

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, object]:
        response = await self._send(method, url, **kwargs)
        if not response.is_success:
            raise self._fail(response)
        body = response.json()
        if not isinstance(body, dict):
            raise ProviderUnavailable("Google answered with an unexpected body")
        return body

    async def _calendar_is_reachable(self, calendar_id: str) -> bool:
        response = await self._send("GET", self._calendar_url(calendar_id))
        return response.status_code != 404

    # CalendarProvider ----------------------------------------------------
    async def account_email(self) -> str:
        body = await self._json("GET", self.userinfo_url)
        email = body.get("email")
        if not isinstance(email, str) or not email:
            raise ProviderRequestError("Google did not share the account's e-mail address")
        return email

    async def list_calendars(self) -> list[ProviderCalendar]:
        calendars: list[ProviderCalendar] = []
        page_token: str | None = None
        while True:
            params: dict[str, str | int] = {"maxResults": CALENDAR_LIST_PAGE_SIZE}
            if page_token:
                params["pageToken"] = page_token
            body = await self._json("GET", f"{self.api_url}/users/me/calendarList", params=params)
            items = body.get("items") or []
            for item in items if isinstance(items, list) else []:
                calendar = self._calendar_from_entry(item)
                if calendar is not None:
                    calendars.append(calendar)
            next_token = body.get("nextPageToken")
            if not isinstance(next_token, str) or not next_token:
                return calendars
            page_token = next_token

    @staticmethod
    def _calendar_from_entry(item: object) -> ProviderCalendar | None:
        if not isinstance(item, dict) or item.get("deleted"):
            return None
        role = ROLES.get(str(item.get("accessRole")))
        if role is None or not item.get("id"):
            return None
        return ProviderCalendar(
            id=str(item["id"]),
            name=str(item.get("summaryOverride") or item.get("summary") or item["id"]),
            is_primary=bool(item.get("primary")),
            access_role=role,
        )

    async def get_busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> BusyByCalendar:
        unique_ids = list(dict.fromkeys(calendar_ids))
        requests = [
            self._free_busy(batch, lower, upper)
            for batch in chunks(unique_ids, FREEBUSY_MAX_CALENDARS)
            for lower, upper in time_windows(start, end, FREEBUSY_MAX_WINDOW)
        ]
        answers = await asyncio.gather(*requests, return_exceptions=True)
        results: list[FreeBusyAnswer] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            results.append(answer)
        spans: dict[str, list[BusyInterval]] = {cid: [] for cid in unique_ids}
        lost: set[str] = set()
        transient: set[str] = set()
        for busy, answer_lost, answer_transient in results:
            lost |= answer_lost
            transient |= answer_transient
            for calendar_id, intervals in busy.items():
                spans.setdefault(calendar_id, []).extend(intervals)
        if lost:
            raise CalendarAccessLost([cid for cid in unique_ids if cid in lost])
        if transient:
            raise ProviderUnavailable(f"Google could not compute free/busy for: {', '.join(sorted(transient))}")
        return BusyByCalendar({cid: merge_intervals(found) for cid, found in spans.items()})

    async def _free_busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> FreeBusyAnswer:
        """One freeBusy query: busy spans, ids whose access is lost, ids that failed transiently."""
        body = await self._json(
            "POST",
            f"{self.api_url}/freeBusy",
            json={
                "timeMin": rfc3339(start),
                "timeMax": rfc3339(end),
                "timeZone": "UTC",
                "items": [{"id": cid} for cid in calendar_ids],
            },
        )
        found = body.get("calendars")
        calendars = found if isinstance(found, dict) else {}
        busy: dict[str, list[BusyInterval]] = {}
        lost: set[str] = set()
        transient: set[str] = set()
        for calendar_id in calendar_ids:
            entry = calendars.get(calendar_id)
            if not isinstance(entry, dict):
                lost.add(calendar_id)
                continue
            reasons = {str(e.get("reason")) for e in entry.get("errors") or [] if isinstance(e, dict)}
            if reasons & LOST_ACCESS_REASONS:
                lost.add(calendar_id)
            elif reasons & TRANSIENT_REASONS:
                transient.add(calendar_id)
            elif reasons:
                raise ProviderRequestError(f"Google refused free/busy for {calendar_id}: {', '.join(sorted(reasons))}")
            busy[calendar_id] = [
                BusyInterval(parse_rfc3339(str(span["start"])), parse_rfc3339(str(span["end"])))
                for span in entry.get("busy") or []
                if isinstance(span, dict)
            ]
        return busy, lost, transient

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        """events.insert; with a key, under the id derived from it, so a retry is answered 409 (the id exists,
        also when the event was deleted since) and the existing event's id is returned."""
        body = event_body(draft)
        if draft.key is not None:
            body["id"] = google_event_id(draft.key)
        response = await self._send(
            "POST",
            self._calendar_url(calendar_id, "events"),
            params=self.SEND_UPDATES,
            json=body,
            idempotent=draft.key is not None,
        )
        if response.status_code == 404:
            raise CalendarAccessLost([calendar_id])
        if response.status_code == 409 and draft.key is not None:
            return await self._existing_event_id(calendar_id, str(body["id"]))
        if not response.is_success:
            raise self._fail(response)
        return str(response.json()["id"])

    async def _existing_event_id(self, calendar_id: str, event_id: str) -> str:
        """The id of the event a duplicate insert ran into, read back (events.get answers deleted events too)."""
        found = await self._json("GET", self._calendar_url(calendar_id, "events", event_id))
        return str(found.get("id") or event_id)

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        """events.update: the draft replaces the event's fields (idempotent, so it is retried like a read)."""
        await self._write_event("PUT", calendar_id, event_id, event_body(draft))

    async def move_event(
        self, calendar_id: str, event_id: str, start: datetime, end: datetime, timezone: str = "UTC"
    ) -> None:
        """events.patch with `start` and `end` only: patch semantics leave the fields the body omits (title,
        description, attendees) as they are; `sendUpdates=all` tells the attendees."""
        await self._write_event("PATCH", calendar_id, event_id, event_times(start, end, timezone))

    async def _write_event(self, method: str, calendar_id: str, event_id: str, body: dict[str, object]) -> None:
        """events.update / events.patch (both idempotent, so retried like a read) with the attendees notified."""
        response = await self._send(
            method, self._calendar_url(calendar_id, "events", event_id), params=self.SEND_UPDATES, json=body
        )
        if response.status_code == 404 and not await self._calendar_is_reachable(calendar_id):
            raise CalendarAccessLost([calendar_id])
        if not response.is_success:
            raise self._fail(response)

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Cancel the event and notify attendees; an event already gone is not an error."""
        response = await self._send(
            "DELETE", self._calendar_url(calendar_id, "events", event_id), params=self.SEND_UPDATES
        )
        if response.status_code == 410 or response.is_success:
            return
        if response.status_code == 404:
            if not await self._calendar_is_reachable(calendar_id):
                raise CalendarAccessLost([calendar_id])
            return
        raise self._fail(response)

    async def create_calendar(self, name: str) -> ProviderCalendar:
        """An owned secondary calendar called `name` is reused (Google allows duplicate names, so a retried
        calendars.insert would create a second one); calendars.insert is not retried once it may have arrived."""
        for calendar in await self.list_calendars():
            if calendar.name == name and calendar.access_role is AccessRole.OWNER and not calendar.is_primary:
                return calendar
        body = await self._json("POST", f"{self.api_url}/calendars", json={"summary": name}, idempotent=False)
        return ProviderCalendar(
            id=str(body["id"]),
            name=str(body.get("summary") or name),
            is_primary=False,
            access_role=AccessRole.OWNER,
        )

    async def sync_events(
        self, calendar_id: str, cursor: str | None, window_start: datetime, window_end: datetime
    ) -> SyncBatch:
        """events.list of the calendar's instances: a full listing of the window without a cursor, else with the
        syncToken; every page followed, the sync token of the last page is the next cursor."""
        base: dict[str, str | int] = {"singleEvents": "true", "maxResults": SYNC_PAGE_SIZE}
        if cursor is None:
            base.update(timeMin=rfc3339(window_start), timeMax=rfc3339(window_end), showDeleted="false")
        else:
            base["syncToken"] = cursor
        changed: dict[str, SyncedEvent] = {}
        removed: dict[str, None] = {}
        page_token: str | None = None
        while True:
            params = {**base, **({"pageToken": page_token} if page_token else {})}
            body = await self._events_page(calendar_id, params)
            zone = calendar_zone(body.get("timeZone"))
            items = body.get("items")
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                event_id = str(item["id"])
                if item.get("status") == "cancelled":
                    changed.pop(event_id, None)
                    removed[event_id] = None
                else:
                    removed.pop(event_id, None)
                    changed[event_id] = synced_event(item, zone)
            next_page = body.get("nextPageToken")
            if isinstance(next_page, str) and next_page:
                page_token = next_page
                continue
            next_cursor = body.get("nextSyncToken")
            if not isinstance(next_cursor, str) or not next_cursor:
                raise ProviderUnavailable("Google ended the event listing without a sync token")
            if cursor is None:
                return SyncBatch(list(changed.values()), [], next_cursor, True, window_start, window_end)
            return SyncBatch(list(changed.values()), list(removed), next_cursor, False)

    async def _events_page(self, calendar_id: str, params: Mapping[str, str | int]) -> dict[str, object]:
        response = await self._send("GET", self._calendar_url(calendar_id, "events"), params=params)
        if response.status_code == 410:
            message, _ = google_error(response)
            raise SyncCursorExpired(f"Google needs a full sync of the calendar: {message}")
        if not response.is_success:
            raise self._sync_refusal(calendar_id, response)
        body = response.json()
        if not isinstance(body, dict):
            raise ProviderUnavailable("Google answered with an unexpected body")
        return body

    def _sync_refusal(self, calendar_id: str, response: httpx.Response) -> ProviderError:
        """What a refused events.list / events.watch means: a calendar gone or unshared (404, 403) is access lost,
        one shared free/busy only cannot be synced (read live instead), a rate limit or 5xx is _fail's."""
        _, reasons = google_error(response)
        if response.status_code == 404:
            return CalendarAccessLost([calendar_id])
        if response.status_code == 403 and "requiredAccessLevel" in reasons:
            return UnsupportedOperation("The calendar is shared free/busy only: its events cannot be synced")
        if response.status_code == 403 and not reasons & RATE_LIMIT_REASONS:
            return CalendarAccessLost([calendar_id])
        return self._fail(response)

    async def watch(self, calendar_id: str, *, channel_id: str, address: str, token: str) -> Watch:
        """events.watch with a web_hook channel; Google pushes to https addresses only (anything else is refused
        here, before any request)."""
        parts = urlsplit(address)
        if parts.scheme != "https" or not parts.netloc:
            raise PushUnsupported("Google pushes changes to https addresses only")
        response = await self._send(
            "POST",
            self._calendar_url(calendar_id, "events", "watch"),
            json={"id": channel_id, "type": "web_hook", "address": address, "token": token},
            idempotent=False,
        )
        if not response.is_success:
            message, reasons = google_error(response)
            if reasons & PUSH_REFUSALS:
                raise PushUnsupported(f"Google will not push changes of this calendar: {message}")
            refusal = self._sync_refusal(calendar_id, response)
            raise PushUnsupported(refusal.message) if type(refusal) is UnsupportedOperation else refusal
        body = response.json()
        try:
            return Watch(str(body["id"]), str(body["resourceId"]), epoch_millis(body["expiration"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderUnavailable("Google answered the watch request without a channel") from exc

    async def renew_watch(self, calendar_id: str, old: Watch, *, channel_id: str, address: str, token: str) -> Watch:
        """Google cannot extend a channel: a new one is opened (the caller stops `old` once it is in place)."""
        return await self.watch(calendar_id, channel_id=channel_id, address=address, token=token)

    async def stop_watch(self, watch: Watch) -> None:
        """channels.stop; a channel Google no longer knows (stopped, expired) is not an error."""
        response = await self._send(
            "POST",
            f"{self.api_url}/channels/stop",
            json={"id": watch.channel_id, "resourceId": watch.resource_id},
        )
        if response.is_success or response.status_code == 404:
            return
        raise self._fail(response)

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()
