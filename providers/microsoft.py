"""Office 365 calendars through Microsoft Graph v1.0 behind the CalendarProvider interface.

Busy time comes from two Graph APIs because getSchedule answers per *mailbox* (its default calendar):

- getSchedule (<= 20 SMTP addresses, window < 62 days per request) for calendars that are provably the
  default calendar of a mailbox: the account's own default calendar, and a colleague's calendar whose id
  equals the one `GET /users/{owner}/calendar` returns (old-style shares where both sides use the owner's id);
- calendarView (paged) for every other calendar, so each calendar id gets exactly its own busy time;
  and for every calendar of a personal Microsoft account, which getSchedule refuses (remembered once refused).

Either way an item blocks time as scheduling.free_busy.blocks_time says of its status (any case).

Sync (sync_events): the default calendar through `/me/calendarView/delta` (the only calendarView delta v1.0
documents), a full round over the window then its deltaLink; every other calendar (other owned ones, shares from
other mailboxes) by a full calendarView listing each time. Push (watch): a Graph subscription to
`me/calendars/{id}/events` with clientState = the channel token, renewed in place by PATCH; Graph subscribes only
to the user's own mailbox, so a share from another mailbox is PushUnsupported (polled).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
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
    ProviderRequestError,
    PushUnsupported,
    SyncBatch,
    SyncCursorExpired,
    SyncedEvent,
    Watch,
)
from providers.http import RetryPolicy, send_authorized
from providers.intervals import chunks, merge_intervals, time_windows
from providers.oauth import OAuthClientConfig, TokenManager
from providers.windows_zones import WireZone, windows_zone
from scheduling.calendars import AccessRole
from scheduling.free_busy import blocks_time
from scheduling.slots import BusyInterval

MICROSOFT_SCOPES = (
    "offline_access",
    "openid",
    "email",
    "User.Read",
    "Calendars.ReadWrite",
    "Calendars.Read.Shared",
)
SCHEDULE_MAX_MAILBOXES = 20
SCHEDULE_MAX_WINDOW = timedelta(days=60)
"""Graph allows at most 62 days per getSchedule; 60 leaves room for any rounding on its side."""
CALENDAR_VIEW_MAX_WINDOW = timedelta(days=60)
AVAILABILITY_VIEW_INTERVAL = 60
MAILBOX_CONCURRENCY = 4
"""Outlook resources allow 4 concurrent requests per app and mailbox."""
CALENDAR_VIEW_PAGE_SIZE = 1000
"""Outlook resources (messages, events, calendarView) take $top from 1 to 1000 (the 999 cap is the directory's):
the largest page means the fewest sequential nextLink round trips."""
LOST_ACCESS_STATUSES = frozenset({403, 404})
SCHEDULE_UNSUPPORTED_STATUSES = frozenset({400, 403, 404})
"""getSchedule refused as a whole (not per mailbox): personal Microsoft accounts (outlook.com, hotmail.com) are
not supported by it; their busy time is read from calendarView instead."""
PREFER_UTC = {"Prefer": 'outlook.timezone="UTC"'}
DELTA_PAGE_SIZE = 200
"""Events per delta page (`Prefer: odata.maxpagesize`; delta ignores $top)."""
EXPIRED_SYNC_CODES = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})
"""Graph's error codes for a delta token it no longer knows (answered 410 Gone, sometimes 400)."""
LISTED_CURSOR = "calendarView"
"""The cursor of a calendar without delta (not the default calendar): every sync lists it whole again."""
SUBSCRIPTION_MAX_LIFETIME = timedelta(minutes=10080)
"""The longest Graph lets a subscription to Outlook events live."""
SUBSCRIPTION_CLOCK_MARGIN = timedelta(minutes=5)
"""Asked for less than the maximum so that a clock ahead of Graph's is not refused for a too-late expiry."""
SUBSCRIPTION_CHANGE_TYPES = "created,updated,deleted"


def microsoft_oauth_config(
    *, client_id: str, client_secret: str, authorize_url: str, token_url: str
) -> OAuthClientConfig:
    """Delegated access (with a refresh token) to the user's and shared calendars, with PKCE."""
    return OAuthClientConfig(
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=authorize_url,
        token_url=token_url,
        scopes=MICROSOFT_SCOPES,
        authorize_params={"response_mode": "query", "prompt": "select_account"},
        use_pkce=True,
    )


def graph_datetime(moment: datetime) -> dict[str, str]:
    """An aware datetime as a Graph dateTimeTimeZone in UTC."""
    if moment.tzinfo is None:
        raise ValueError("datetimes sent to Microsoft Graph must be timezone-aware")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return {"dateTime": utc.isoformat(timespec="seconds"), "timeZone": "UTC"}


def local_graph_datetime(moment: datetime, zone: WireZone) -> dict[str, str]:
    """An aware datetime as wall-clock time in `zone` (a Windows zone id, as Graph names zones)."""
    if moment.tzinfo is None:
        raise ValueError("datetimes sent to Microsoft Graph must be timezone-aware")
    return {"dateTime": zone.wall_clock(moment).isoformat(timespec="seconds"), "timeZone": zone.name}


def parse_graph_datetime(value: Mapping[str, object]) -> datetime:
    """A Graph dateTimeTimeZone (`2026-12-07T09:00:00.0000000`, `UTC`) as an aware UTC datetime."""
    raw = value["dateTime"]
    if value.get("timeZone") == "UTC" and isinstance(raw, str) and len(raw) == 27 and raw[19] == ".":
        # The common case (asked for with `Prefer: outlook.timezone="UTC"`): 7 fraction digits, in UTC.
        return datetime.fromisoformat(f"{raw[:26]}+00:00")
    text = str(raw).replace("Z", "")
    zone_name = str(value.get("timeZone") or "UTC")
    if "." in text:
        whole, fraction = text.split(".", 1)
        text = f"{whole}.{fraction[:6]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        try:
            zone = UTC if zone_name.upper() == "UTC" else ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def status_of(item: Mapping[str, object], key: str) -> str | None:
    """A free/busy status as Graph wrote it (`busy`, `Busy`, `workingElsewhere`...), None when missing."""
    value = item.get(key)
    return value if isinstance(value, str) else None


def graph_error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"Microsoft Graph answered {response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"Microsoft Graph: {error['message']}"
    return f"Microsoft Graph answered {response.status_code}"


@dataclass(frozen=True)
class _CalendarEntry:
    """A calendar from /me/calendars and how its busy time is read."""

    id: str
    name: str
    is_default: bool
    can_edit: bool
    owner_address: str
    owned: bool
    schedule_address: str | None
    """The mailbox whose getSchedule answers for exactly this calendar, if any."""


@dataclass
class _Partial:
    busy: dict[str, list[BusyInterval]]
    lost: list[str]


class MicrosoftCalendarProvider(CalendarProvider):
    """A connected Office 365 account, spoken to through Microsoft Graph v1.0."""

    def __init__(
        self,
        tokens: TokenManager,
        *,
        graph_url: str,
        retry: RetryPolicy,
        client: httpx.AsyncClient | None = None,
        known_primary: tuple[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`known_primary` = (account email, default calendar id), when already stored: get_busy then
        routes calendars without first reading the calendar catalogue (one round trip, not three)."""
        self.tokens = tokens
        self.graph_url = graph_url.rstrip("/")
        self.retry = retry
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(20.0))
        self._email: str | None = known_primary[0].lower() if known_primary else None
        self._known_primary = known_primary[1] if known_primary else None
        self._catalog: dict[str, _CalendarEntry] | None = None
        self._slots = asyncio.Semaphore(MAILBOX_CONCURRENCY)
        self._schedule_unsupported = False
        """getSchedule was refused for this account (a personal one): every calendar is read by calendarView."""
        self.clock = clock or (lambda: datetime.now(UTC))
        self.delta_page_size = DELTA_PAGE_SIZE

    # HTTP ------------------------------------------------------------------
    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One Graph call with retries; a 401 refreshes the token once, a second 401 is an auth error."""
        response = await send_authorized(
            self.client, self.tokens, method, url, policy=self.retry, limit=self._slots, **kwargs
        )
        if response.status_code == 401:
            raise ProviderAuthError("Microsoft rejected the connection's token; reconnect the calendar")
        return response

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, object]:
        response = await self._request(method, url, **kwargs)
        self._raise_for_status(response)
        body = response.json()
        if not isinstance(body, dict):
            raise ProviderRequestError("Microsoft Graph answered with an unexpected body")
        return body

    @staticmethod
    def _raise_for_status(response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise ProviderRequestError(graph_error_message(response))

    async def _paged(
        self, url: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> list[dict[str, object]]:
        """Every item of a collection, following @odata.nextLink (which already carries the query)."""
        items: list[dict[str, object]] = []
        next_url: str | None = url
        next_params: Mapping[str, str] | None = params
        while next_url:
            body = await self._json("GET", next_url, params=next_params, headers=headers or {})
            values = body.get("value")
            if isinstance(values, list):
                items.extend(v for v in values if isinstance(v, dict))
            link = body.get("@odata.nextLink")
            next_url = str(link) if link else None
            next_params = None
        return items

    # account and calendars -------------------------------------------------
    async def account_email(self) -> str:
        if self._email is None:
            me = await self._json("GET", f"{self.graph_url}/me", params={"$select": "mail,userPrincipalName"})
            self._email = str(me.get("mail") or me.get("userPrincipalName") or "")
        return self._email

    async def _load_catalog(self) -> dict[str, _CalendarEntry]:
        me = (await self.account_email()).lower()
        raw = await self._paged(
            f"{self.graph_url}/me/calendars",
            params={"$select": "id,name,isDefaultCalendar,canEdit,canShare,owner", "$top": "50"},
        )
        foreign_owners = sorted(
            {self._owner_address(item) for item in raw if self._owner_address(item) and self._owner_address(item) != me}
        )
        defaults = dict(
            zip(
                foreign_owners,
                await asyncio.gather(*(self._default_calendar_id(owner) for owner in foreign_owners)),
            )
        )
        catalog: dict[str, _CalendarEntry] = {}
        for item in raw:
            calendar_id = str(item["id"])
            owner = self._owner_address(item) or me
            owned = owner == me
            is_default = bool(item.get("isDefaultCalendar"))
            if owned:
                schedule_address = me if is_default else None
            else:
                schedule_address = owner if defaults.get(owner) == calendar_id else None
            catalog[calendar_id] = _CalendarEntry(
                id=calendar_id,
                name=str(item.get("name") or ""),
                is_default=owned and is_default,
                can_edit=bool(item.get("canEdit")),
                owner_address=owner,
                owned=owned,
                schedule_address=schedule_address,
            )
        self._catalog = catalog
        return catalog

    @staticmethod
    def _owner_address(item: Mapping[str, object]) -> str:
        owner = item.get("owner")
        if isinstance(owner, dict) and owner.get("address"):
            return str(owner["address"]).lower()
        return ""

    async def _default_calendar_id(self, owner: str) -> str | None:
        """The id of `owner`'s default calendar when it is shared with this account, else None."""
        response = await self._request(
            "GET", f"{self.graph_url}/users/{quote(owner)}/calendar", params={"$select": "id"}
        )
        if response.status_code != 200:
            return None
        body = response.json()
        return str(body.get("id")) if isinstance(body, dict) and body.get("id") else None

    async def _role(self, entry: _CalendarEntry) -> AccessRole:
        if entry.owned:
            return AccessRole.OWNER
        if entry.can_edit:
            return AccessRole.WRITER
        return AccessRole.READER if await self._can_read_events(entry.id) else AccessRole.FREE_BUSY

    async def _can_read_events(self, calendar_id: str) -> bool:
        """A free/busy-only share (role freeBusyRead) lists the calendar but refuses to read its events."""
        response = await self._request(
            "GET",
            f"{self.graph_url}/me/calendars/{quote(calendar_id, safe='')}/events",
            params={"$top": "1", "$select": "id"},
        )
        if response.status_code in LOST_ACCESS_STATUSES:
            return False
        self._raise_for_status(response)
        return True

    async def list_calendars(self) -> list[ProviderCalendar]:
        catalog = await self._load_catalog()
        entries = list(catalog.values())
        roles = await asyncio.gather(*(self._role(entry) for entry in entries))
        return [
            ProviderCalendar(id=entry.id, name=entry.name, is_primary=entry.is_default, access_role=role)
            for entry, role in zip(entries, roles)
        ]

    async def create_calendar(self, name: str) -> ProviderCalendar:
        """An owned calendar called `name` is reused; POST /me/calendars is not retried once it may have arrived,
        and its 409 ErrorFolderExists (a concurrent or earlier create won) answers with that calendar."""
        existing = await self._owned_calendar_named(name)
        if existing is not None:
            return existing
        response = await self._request("POST", f"{self.graph_url}/me/calendars", json={"name": name}, idempotent=False)
        self._catalog = None
        if response.status_code == 409:
            existing = await self._owned_calendar_named(name)
            if existing is not None:
                return existing
        self._raise_for_status(response)
        body = response.json()
        return ProviderCalendar(
            id=str(body["id"]),
            name=str(body.get("name") or name),
            is_primary=False,
            access_role=AccessRole.OWNER,
        )

    async def _owned_calendar_named(self, name: str) -> ProviderCalendar | None:
        for entry in (await self._load_catalog()).values():
            if entry.owned and not entry.is_default and entry.name.lower() == name.lower():
                return ProviderCalendar(id=entry.id, name=entry.name, is_primary=False, access_role=AccessRole.OWNER)
        return None

    # busy time -------------------------------------------------------------
    async def get_busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> BusyByCalendar:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("get_busy needs timezone-aware datetimes")
        wanted = list(dict.fromkeys(calendar_ids))
        if not wanted:
            return BusyByCalendar({})
        lost: list[str] = []
        by_mailbox: dict[str, list[str]] = {}
        viewed: list[str] = []
        if self._catalog is None and self._known_primary is not None and self._email:
            # Stored knowledge: the own default calendar through getSchedule, every other one through
            # calendarView (which reports lost access as 403/404 itself).
            for cid in wanted:
                if cid == self._known_primary:
                    by_mailbox.setdefault(self._email, []).append(cid)
                else:
                    viewed.append(cid)
        else:
            catalog = self._catalog
            if catalog is None or any(cid not in catalog for cid in wanted):
                catalog = await self._load_catalog()
            lost = [cid for cid in wanted if cid not in catalog]
            for cid in wanted:
                entry = catalog.get(cid)
                if entry is None:
                    continue
                if entry.schedule_address:
                    by_mailbox.setdefault(entry.schedule_address, []).append(cid)
                else:
                    viewed.append(cid)

        if self._schedule_unsupported:
            viewed = [cid for cids in by_mailbox.values() for cid in cids] + viewed
            by_mailbox = {}
        jobs: list[Awaitable[_Partial]] = []
        mailboxes = list(by_mailbox)
        for window_start, window_end in time_windows(start, end, SCHEDULE_MAX_WINDOW):
            for chunk in chunks(mailboxes, SCHEDULE_MAX_MAILBOXES):
                jobs.append(self._schedule(chunk, by_mailbox, window_start, window_end))
        for cid in viewed:
            for window_start, window_end in time_windows(start, end, CALENDAR_VIEW_MAX_WINDOW):
                jobs.append(self._calendar_view(cid, window_start, window_end))
        partials = await self._gather(jobs)

        collected: dict[str, list[BusyInterval]] = {cid: [] for cid in wanted}
        for partial in partials:
            lost.extend(partial.lost)
            for cid, spans in partial.busy.items():
                collected[cid].extend(spans)
        if lost:
            raise CalendarAccessLost([cid for cid in wanted if cid in set(lost)])
        return BusyByCalendar({cid: merge_intervals(spans) for cid, spans in collected.items()})

    @staticmethod
    async def _gather(jobs: Sequence[Awaitable[_Partial]]) -> list[_Partial]:
        """Run every job; if any failed for another reason than lost access, raise the first failure."""
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, _Partial)]

    async def _schedule(
        self,
        mailboxes: Sequence[str],
        calendars_of: Mapping[str, list[str]],
        start: datetime,
        end: datetime,
    ) -> _Partial:
        response = await self._request(
            "POST",
            f"{self.graph_url}/me/calendar/getSchedule",
            json={
                "schedules": list(mailboxes),
                "startTime": graph_datetime(start),
                "endTime": graph_datetime(end),
                "availabilityViewInterval": AVAILABILITY_VIEW_INTERVAL,
            },
            headers=PREFER_UTC,
        )
        if response.status_code in SCHEDULE_UNSUPPORTED_STATUSES:
            self._schedule_unsupported = True
            return await self._views_instead(mailboxes, calendars_of, start, end)
        self._raise_for_status(response)
        body = response.json()
        if not isinstance(body, dict):
            raise ProviderRequestError("Microsoft Graph answered with an unexpected body")
        partial = _Partial(busy={}, lost=[])
        answered: set[str] = set()
        values = body.get("value")
        for info in values if isinstance(values, list) else []:
            if not isinstance(info, dict):
                continue
            address = str(info.get("scheduleId") or "").lower()
            answered.add(address)
            calendar_ids = calendars_of.get(address, [])
            if info.get("error"):
                partial.lost.extend(calendar_ids)
                continue
            spans = [
                BusyInterval(parse_graph_datetime(item["start"]), parse_graph_datetime(item["end"]))
                for item in info.get("scheduleItems") or []
                if isinstance(item, dict) and blocks_time(status_of(item, "status"))
            ]
            for cid in calendar_ids:
                partial.busy.setdefault(cid, []).extend(spans)
        for address in mailboxes:
            if address.lower() not in answered:
                partial.lost.extend(calendars_of.get(address, []))
        return partial

    async def _views_instead(
        self, mailboxes: Sequence[str], calendars_of: Mapping[str, list[str]], start: datetime, end: datetime
    ) -> _Partial:
        """The busy time getSchedule would have given, read from each calendar's calendarView."""
        views = [self._calendar_view(cid, start, end) for address in mailboxes for cid in calendars_of.get(address, [])]
        partial = _Partial(busy={}, lost=[])
        for view in await self._gather(views):
            partial.lost.extend(view.lost)
            for cid, spans in view.busy.items():
                partial.busy.setdefault(cid, []).extend(spans)
        return partial

    async def _calendar_view(self, calendar_id: str, start: datetime, end: datetime) -> _Partial:
        url = f"{self.graph_url}/me/calendars/{quote(calendar_id, safe='')}/calendarView"
        params = {
            "startDateTime": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "endDateTime": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "$select": "start,end,showAs,isCancelled",
            "$top": str(CALENDAR_VIEW_PAGE_SIZE),
        }
        spans: list[BusyInterval] = []
        next_url: str | None = url
        next_params: Mapping[str, str] | None = params
        while next_url:
            response = await self._request("GET", next_url, params=next_params, headers=PREFER_UTC)
            if response.status_code in LOST_ACCESS_STATUSES:
                return _Partial(busy={}, lost=[calendar_id])
            self._raise_for_status(response)
            body = response.json()
            for event in body.get("value") or []:
                if event.get("isCancelled") or not blocks_time(status_of(event, "showAs")):
                    continue
                spans.append(BusyInterval(parse_graph_datetime(event["start"]), parse_graph_datetime(event["end"])))
            link = body.get("@odata.nextLink")
            next_url = str(link) if link else None
            next_params = None
        return _Partial(busy={calendar_id: spans}, lost=[])

    # events ----------------------------------------------------------------
    @staticmethod
    def _event_body(draft: EventDraft) -> dict[str, object]:
        zone = windows_zone(draft.timezone, (draft.start, draft.end))
        return {
            "subject": draft.summary,
            "body": {"contentType": "text", "content": draft.description or ""},
            "start": local_graph_datetime(draft.start, zone),
            "end": local_graph_datetime(draft.end, zone),
            "attendees": [
                {
                    "emailAddress": {"address": a.email, "name": a.name or a.email},
                    "type": "required",
                }
                for a in draft.attendees
            ],
        }

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        """Create the event; Graph sends the invitations itself when attendees are present.

        With a key, the event carries it as `transactionId`: Graph answers a repeated POST with the same
        transactionId with the event it already created (201, same id) instead of creating another, so the POST
        is retried after timeouts and 5xx like a read.
        """
        event = self._event_body(draft)
        if draft.key is not None:
            event["transactionId"] = draft.key
        body = await self._json(
            "POST",
            f"{self.graph_url}/me/calendars/{quote(calendar_id, safe='')}/events",
            json=event,
            idempotent=draft.key is not None,
        )
        return str(body["id"])

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        """PATCH every field the provider writes, so the draft replaces them (idempotent)."""
        await self._json(
            "PATCH",
            f"{self.graph_url}/me/events/{quote(event_id, safe='')}",
            json=self._event_body(draft),
        )

    async def move_event(
        self, calendar_id: str, event_id: str, start: datetime, end: datetime, timezone: str = "UTC"
    ) -> None:
        """PATCH `start` and `end` only: Graph keeps the properties the body omits (subject, body, attendees)
        and, the account being the organiser, sends the attendees the update itself."""
        zone = windows_zone(timezone, (start, end))
        await self._json(
            "PATCH",
            f"{self.graph_url}/me/events/{quote(event_id, safe='')}",
            json={"start": local_graph_datetime(start, zone), "end": local_graph_datetime(end, zone)},
        )

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        response = await self._request("DELETE", f"{self.graph_url}/me/events/{quote(event_id, safe='')}")
        if response.status_code == 404:
            return
        self._raise_for_status(response)

    # sync ------------------------------------------------------------------
    async def _primary_id(self) -> str:
        if self._known_primary is not None:
            return self._known_primary
        catalog = self._catalog or await self._load_catalog()
        primary = next((entry.id for entry in catalog.values() if entry.is_default), None)
        if primary is None:
            raise ProviderRequestError("Microsoft Graph listed no default calendar for the account")
        self._known_primary = primary
        return primary

    async def sync_events(
        self, calendar_id: str, cursor: str | None, window_start: datetime, window_end: datetime
    ) -> SyncBatch:
        """The default calendar by calendarView delta (a full round without a usable cursor, else its deltaLink);
        any other calendar by a full calendarView listing every time (v1.0 offers no delta for it)."""
        if calendar_id != await self._primary_id():
            return await self._listed(calendar_id, window_start, window_end)
        if cursor is None or not cursor.startswith(f"{self.graph_url}/"):
            return await self._delta(
                calendar_id,
                f"{self.graph_url}/me/calendarView/delta",
                {"startDateTime": _query_time(window_start), "endDateTime": _query_time(window_end)},
                full=True,
                window=(window_start, window_end),
            )
        return await self._delta(calendar_id, cursor, None, full=False, window=None)

    async def _delta(
        self,
        calendar_id: str,
        url: str,
        params: Mapping[str, str] | None,
        *,
        full: bool,
        window: tuple[datetime, datetime] | None,
    ) -> SyncBatch:
        headers = {"Prefer": f'outlook.timezone="UTC", odata.maxpagesize={self.delta_page_size}'}
        changed: dict[str, SyncedEvent] = {}
        removed: dict[str, None] = {}
        next_url: str | None = url
        next_params = params
        while next_url is not None:
            response = await self._request("GET", next_url, params=next_params, headers=headers)
            if response.status_code == 410 or _error_code(response) in EXPIRED_SYNC_CODES:
                raise SyncCursorExpired("Microsoft Graph no longer knows this delta token; a full sync is needed")
            if response.status_code in LOST_ACCESS_STATUSES:
                raise CalendarAccessLost([calendar_id])
            self._raise_for_status(response)
            body = response.json()
            for item in body.get("value") or []:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                event_id = str(item["id"])
                if "@removed" in item or item.get("isCancelled"):
                    changed.pop(event_id, None)
                    removed[event_id] = None
                else:
                    removed.pop(event_id, None)
                    changed[event_id] = synced_event(item)
            link = body.get("@odata.nextLink")
            delta_link = body.get("@odata.deltaLink")
            next_params = None
            if link:
                next_url = self._own_link(str(link))
            elif delta_link:
                next_url = None
                cursor = self._own_link(str(delta_link))
            else:
                raise ProviderRequestError("Microsoft Graph ended a delta round without a deltaLink")
        return SyncBatch(
            changed=list(changed.values()),
            removed=[] if full else list(removed),
            cursor=cursor,
            full=full,
            window_start=window[0] if window else None,
            window_end=window[1] if window else None,
        )

    def _own_link(self, link: str) -> str:
        """A nextLink/deltaLink, refused unless it points at the Graph we speak to (it gets our bearer token)."""
        if not link.startswith(f"{self.graph_url}/"):
            raise ProviderRequestError("Microsoft Graph answered a link to another host")
        return link

    async def _listed(self, calendar_id: str, start: datetime, end: datetime) -> SyncBatch:
        """A calendar with no delta in v1.0: its whole calendarView over the window, as a full batch."""
        items: list[dict[str, Any]] = []
        url: str | None = f"{self.graph_url}/me/calendars/{quote(calendar_id, safe='')}/calendarView"
        params: Mapping[str, str] | None = {
            "startDateTime": _query_time(start),
            "endDateTime": _query_time(end),
            "$top": str(CALENDAR_VIEW_PAGE_SIZE),
        }
        while url is not None:
            response = await self._request("GET", url, params=params, headers=PREFER_UTC)
            if response.status_code in LOST_ACCESS_STATUSES:
                raise CalendarAccessLost([calendar_id])
            self._raise_for_status(response)
            body = response.json()
            items.extend(item for item in body.get("value") or [] if isinstance(item, dict) and item.get("id"))
            link = body.get("@odata.nextLink")
            url = self._own_link(str(link)) if link else None
            params = None
        return SyncBatch(
            changed=[synced_event(item) for item in items if not item.get("isCancelled")],
            removed=[],
            cursor=LISTED_CURSOR,
            full=True,
            window_start=start,
            window_end=end,
        )

    # push ------------------------------------------------------------------
    def _subscription_expiry(self) -> str:
        expiry = self.clock() + SUBSCRIPTION_MAX_LIFETIME - SUBSCRIPTION_CLOCK_MARGIN
        return _query_time(expiry)

    async def watch(self, calendar_id: str, *, channel_id: str, address: str, token: str) -> Watch:
        """A subscription to the calendar's events, notifying `address` (also of lifecycle events) with clientState
        `token`. Graph picks the subscription id: the Watch's channel_id is Graph's, not `channel_id`."""
        if not address.lower().startswith("https://"):
            raise PushUnsupported("Microsoft Graph notifies https addresses only")
        body = {
            "changeType": SUBSCRIPTION_CHANGE_TYPES,
            "notificationUrl": address,
            "lifecycleNotificationUrl": address,
            "resource": f"me/calendars/{calendar_id}/events",
            "expirationDateTime": self._subscription_expiry(),
            "clientState": token,
        }
        response = await self._request("POST", f"{self.graph_url}/subscriptions", json=body, idempotent=False)
        if response.status_code in (400, 403, 404) and _error_code(response) in ("extensionerror", "validationerror"):
            raise PushUnsupported(f"Microsoft Graph refused the subscription ({graph_error_message(response)})")
        self._raise_for_status(response)
        return _watch(response.json())

    async def renew_watch(self, calendar_id: str, old: Watch, *, channel_id: str, address: str, token: str) -> Watch:
        """PATCH the subscription's expiry (same id); one Graph no longer has (expired, removed) is opened anew."""
        response = await self._request(
            "PATCH",
            f"{self.graph_url}/subscriptions/{quote(old.channel_id, safe='')}",
            json={"expirationDateTime": self._subscription_expiry()},
        )
        if response.status_code == 404:
            return await self.watch(calendar_id, channel_id=channel_id, address=address, token=token)
        self._raise_for_status(response)
        return _watch(response.json())

    async def stop_watch(self, watch: Watch) -> None:
        response = await self._request("DELETE", f"{self.graph_url}/subscriptions/{quote(watch.channel_id, safe='')}")
        if response.status_code == 404:
            return
        self._raise_for_status(response)

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()


def _query_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetimes sent to Microsoft Graph must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _error_code(response: httpx.Response) -> str:
    """Graph's error code (lower case), or "" when the body has none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code") or "").lower() if isinstance(error, dict) else ""


def _watch(body: object) -> Watch:
    if not isinstance(body, dict) or not body.get("id") or not body.get("expirationDateTime"):
        raise ProviderRequestError("Microsoft Graph answered a subscription without id or expiry")
    text = str(body["expirationDateTime"])
    expires_at = parse_graph_datetime({"dateTime": text.removesuffix("Z").removesuffix("+00:00"), "timeZone": "UTC"})
    return Watch(channel_id=str(body["id"]), resource_id=str(body.get("resource") or ""), expires_at=expires_at)


def meetgraph_key(transaction_id: object) -> str | None:
    """The EventDraft.key behind a transactionId: create_event sends the key itself, a UUID's string form."""
    if not isinstance(transaction_id, str):
        return None
    try:
        return str(uuid.UUID(transaction_id)) if str(uuid.UUID(transaction_id)) == transaction_id.lower() else None
    except ValueError:
        return None


def synced_event(item: Mapping[str, Any]) -> SyncedEvent:
    """A Graph event (asked for in UTC) as sync reports it. An event carrying a transactionId that is not one of
    meetgraph's keys was created through the API by another application (the only trace Graph shows of one)."""
    show_as = status_of(item, "showAs")
    transaction_id = item.get("transactionId")
    key = meetgraph_key(transaction_id)
    organizer = item.get("organizer")
    address = organizer.get("emailAddress") if isinstance(organizer, dict) else None
    attendees = tuple(
        Attendee(email=str(a["emailAddress"]["address"]), name=a["emailAddress"].get("name") or None)
        for a in item.get("attendees") or []
        if isinstance(a, dict) and isinstance(a.get("emailAddress"), dict) and a["emailAddress"].get("address")
    )
    return SyncedEvent(
        id=str(item["id"]),
        start=parse_graph_datetime(item["start"]),
        end=parse_graph_datetime(item["end"]),
        blocks=blocks_time(show_as),
        status=show_as or "",
        summary=str(item.get("subject") or ""),
        organizer_email=str(address["address"]).lower()
        if isinstance(address, dict) and address.get("address")
        else None,
        organized_by_account=bool(item.get("isOrganizer")),
        attendees=attendees,
        version=str(item["changeKey"]) if item.get("changeKey") else None,
        key=key,
        from_integration=bool(transaction_id) and key is None,
        series_id=str(item["seriesMasterId"]) if item.get("seriesMasterId") else None,
    )
