"""One Exchange mailbox as a CalendarProvider."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar, TypeVar

from exchangelib import Account, EWSTimeZone
from exchangelib.errors import (
    ErrorFolderExists,
)
from exchangelib.extended_properties import ExtendedProperty
from exchangelib.fields import Field
from exchangelib.folders import Calendar, FolderCollection
from exchangelib.folders.queryset import DEEP
from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY, CalendarItem
from exchangelib.properties import Attendee as EwsAttendee
from exchangelib.properties import Body, Mailbox
from exchangelib.version import EXCHANGE_2013

from providers.base import (
    BusyByCalendar,
    CalendarAccessLost,
    CalendarProvider,
    EventDraft,
    ProviderAuthError,
    ProviderCalendar,
    ProviderUnavailable,
    SyncBatch,
    UnsupportedOperation,
)
from providers.exchange.credentials import ExchangeCredentials
from providers.exchange.errors import LOST_FOLDER_ERRORS, FolderLost
from providers.exchange.session import (
    ExchangeAccounts,
    ExchangeRuntime,
    calendar_folder,
    close_protocol,
    discover_ews_url,
    endpoint_of,
    mailbox_moved,
    open_account,
    primary_calendar,
    with_retry,
)
from providers.exchange.sync import MAX_SYNC_PAGES, ChangesPage, SyncCursor, changes_page, synced_event
from providers.exchange.view import (
    BUSY_FIELDS,
    FIND_BUDGET,
    IS_ORGANIZER,
    MIN_PAGE_SIZE,
    PAGE_SIZE,
    PARALLEL_VIEWS,
    FindCountExceeded,
    PageRequest,
    ViewItem,
    ViewPage,
    ViewPager,
    blocks,
    ews_time,
    view_page,
)
from providers.http import RetryPolicy
from providers.intervals import time_windows
from providers.outbound import OutboundPolicy
from providers.windows_zones import WireZone, windows_zone
from scheduling.calendars import EXCHANGE_CAPABILITIES, AccessRole, Capabilities
from scheduling.slots import BusyInterval

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_VIEW_SPAN = timedelta(days=42)
"""Longest CalendarView window we ask for (EWS rejects or truncates very long views)."""
KEY_FIELD = "meetgraph_key"
SYNC_FIELDS = (*BUSY_FIELDS, "subject", KEY_FIELD)
"""What a sync reads of each CalendarView item (and IsOrganizer from Exchange 2013 on; the ChangeKey comes with the
ItemId)."""


def ews_zone(zone: WireZone) -> EWSTimeZone:
    """`zone` for exchangelib: its rules, written as its Windows id (StartTimeZone/EndTimeZone Id from Exchange
    2010 on, MeetingTimeZone before). A fresh instance: exchangelib's cached ones carry their own ms_id."""
    ews = EWSTimeZone.no_cache(zone.rules.key)
    ews.ms_id = zone.name
    ews.ms_name = ""
    return ews


class MeetgraphKey(ExtendedProperty):  # type: ignore[misc]
    """The idempotency key stamped on every calendar item meetgraph creates with one: a named string property in
    meetgraph's own property set (a MAPI named property, written and searched as an EWS ExtendedFieldURI)."""

    property_set_id = "6b0f8f5e-2c1d-4a57-9d0e-8e4f6a1c3b27"
    property_name = "MeetgraphIdempotencyKey"
    property_type = "String"


if KEY_FIELD not in {f.name for f in CalendarItem.FIELDS}:
    CalendarItem.register(KEY_FIELD, MeetgraphKey)


class ExchangeCalendarProvider(CalendarProvider):
    """One Exchange mailbox: its Calendar folder and the calendar folders below it (all owned)."""

    capabilities: ClassVar[Capabilities] = EXCHANGE_CAPABILITIES

    def __init__(
        self,
        credentials: ExchangeCredentials,
        *,
        retry: RetryPolicy | None = None,
        accounts: ExchangeAccounts | None = None,
        outbound: OutboundPolicy | None = None,
        ca_bundle: str | None = None,
        runtime: ExchangeRuntime | None = None,
        rediscover: bool = False,
        autodiscover_url: str | None = None,
    ) -> None:
        """`accounts`: the process-wide cache to take the opened Account from (and leave it in when closed);
        without it the provider opens its own and closes it in aclose(). `outbound`: where the (user-given) EWS URL
        may connect; public https only by default. `ca_bundle`: CAs trusted besides the system's (an on-prem CA).
        `runtime`: the process's Exchange threads, limits and breakers (the app wiring's); without it the provider
        runs a small one of its own, closed in aclose(). `rediscover`: when the EWS URL says the mailbox is not there
        (moved), autodiscover (at `autodiscover_url`, else the DNS steps) is asked again once and the call repeated
        at the new URL, which the runtime keeps for later calls."""
        self._own_runtime = runtime is None
        self._runtime = runtime if runtime is not None else ExchangeRuntime(threads=4)
        self._rediscover = rediscover
        self._autodiscover_url = autodiscover_url
        moved_to = self._runtime.discovered.get(credentials.email, autodiscover_url) if rediscover else None
        self._credentials = replace(credentials, ews_url=moved_to) if moved_to else credentials
        self._retry = retry or RetryPolicy()
        self._outbound = outbound or OutboundPolicy()
        self._ca_bundle = ca_bundle
        self._accounts = accounts
        self._account: Account | None = None
        self._account_lock = threading.Lock()
        self._view_turns = asyncio.Semaphore(PARALLEL_VIEWS)
        self._create_lock = accounts.create_lock(credentials) if accounts is not None else threading.Lock()

    def __repr__(self) -> str:
        return f"ExchangeCalendarProvider({self._credentials.email!r}, {self._credentials.ews_url!r})"

    @property
    def credentials(self) -> ExchangeCredentials:
        return self._credentials

    def _ews(self) -> Account:
        with self._account_lock:
            if self._account is None:
                if self._accounts is not None:
                    self._account = self._accounts.get(self._credentials)
                else:
                    self._account = open_account(self._credentials, self._runtime.timeout)
            return self._account

    def _forget_refused_account(self) -> None:
        """After a refused login, a shared account is not kept for the next request (it may hold stale sessions)."""
        with self._account_lock:
            account, self._account = self._account, None
        if account is not None and self._accounts is not None:
            self._accounts.discard(self._credentials, account)

    @property
    def runtime(self) -> ExchangeRuntime:
        return self._runtime

    def _folder(self, calendar_id: str) -> Calendar:
        """A calendar folder by id, opened without a request (nor exchangelib's process-wide folder locks)."""
        return calendar_folder(self._ews(), calendar_id)

    async def _run(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        try:
            return await self._attempt(fn, idempotent=idempotent)
        except Exception as exc:
            if not (self._rediscover and mailbox_moved(exc) and await self._follow_move()):
                raise
        return await self._attempt(fn, idempotent=idempotent)

    async def _attempt(self, fn: Callable[[], T], *, idempotent: bool) -> T:
        endpoint = endpoint_of(self._credentials.ews_url or "")
        try:
            return await with_retry(
                self._retry,
                fn,
                self._outbound,
                runtime=self._runtime,
                endpoint=endpoint,
                idempotent=idempotent,
                ca_bundle=self._ca_bundle,
            )
        except ProviderAuthError:
            self._forget_refused_account()
            raise

    async def _follow_move(self) -> bool:
        """Autodiscover asked again (not from the cache); whether it names another EWS URL, now the provider's."""
        url = await discover_ews_url(
            self._credentials,
            self._autodiscover_url,
            policy=self._retry,
            outbound=self._outbound,
            runtime=self._runtime,
            fresh=True,
            ca_bundle=self._ca_bundle,
        )
        if url == self._credentials.ews_url:
            return False
        log.info("Exchange mailbox %s moved to %s", self._credentials.email, url)
        with self._account_lock:
            self._account = None
            self._credentials = replace(self._credentials, ews_url=url)
        return True

    # CalendarProvider ---------------------------------------------------------------------------
    async def account_email(self) -> str:
        return self._credentials.email

    async def list_calendars(self) -> list[ProviderCalendar]:
        return await self._run(self._owned_calendars)

    def _owned_calendars(self) -> list[ProviderCalendar]:
        primary = primary_calendar(self._ews())
        calendars = [ProviderCalendar(primary.id, primary.name or "Calendar", True, AccessRole.OWNER)]
        found = FolderCollection(account=self._ews(), folders=[primary]).find_folders(depth=DEEP)
        for folder in found:
            if isinstance(folder, Exception):
                raise folder
            if isinstance(folder, Calendar):
                calendars.append(ProviderCalendar(folder.id, folder.name or "", False, AccessRole.OWNER))
        return calendars

    async def get_busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> BusyByCalendar:
        """One CalendarView per calendar and window, at most PARALLEL_VIEWS side by side for this provider (whatever
        the number of concurrent get_busy calls on it). FindItems of one mailbox share one budget of items in flight
        on the server (EWSFindCountLimit): each page asks for a share of FIND_BUDGET, so together they never ask for
        more than the server allows (a page grows past its share only where items starting at one instant fill it)."""
        views = [
            (cid, w_start, w_end) for cid in calendar_ids for w_start, w_end in time_windows(start, end, MAX_VIEW_SPAN)
        ]
        share = max(MIN_PAGE_SIZE, FIND_BUDGET // PARALLEL_VIEWS)

        async def view(cid: str, w_start: datetime, w_end: datetime) -> dict[str, BusyInterval] | FolderLost:
            async with self._view_turns:
                try:
                    return await self._view(cid, w_start, w_end, size=share)
                except FolderLost as lost:
                    return lost

        results = await asyncio.gather(*(view(*v) for v in views))
        lost: list[str] = []
        spans: dict[str, dict[str, BusyInterval]] = {cid: {} for cid in calendar_ids}
        for (cid, _, _), result in zip(views, results):
            if isinstance(result, FolderLost):
                if cid not in lost:
                    lost.append(cid)
            else:
                spans[cid].update(result)
        if lost:
            raise CalendarAccessLost(lost)
        return BusyByCalendar(
            {cid: sorted(found.values(), key=lambda i: (i.start, i.end)) for cid, found in spans.items()}
        )

    async def _view(
        self, calendar_id: str, start: datetime, end: datetime, *, size: int = PAGE_SIZE
    ) -> dict[str, BusyInterval]:
        """Busy items of one folder overlapping [start, end), by item id (see _view_items)."""
        items = await self._view_items(calendar_id, start, end, size=size)
        return {item.id: BusyInterval(item.start, item.end) for item in items.values() if blocks(item)}

    async def _view_items(
        self, calendar_id: str, start: datetime, end: datetime, *, size: int = PAGE_SIZE, full: bool = False
    ) -> dict[str, ViewItem]:
        """Items of one folder overlapping [start, end), by item id: the CalendarView read page by page (ViewPager)
        with pages of `size` items (growing past it only where items starting at one instant fill a page), each
        page one FindItem request retried on its own. `full`: with what a sync keeps (SYNC_FIELDS), not only the
        busy-time fields."""
        pager = ViewPager(start, end, size=min(size, PAGE_SIZE))
        while (request := pager.next_request()) is not None:
            try:
                page = await self._run(functools.partial(self._page, calendar_id, request, full=full))
            except FindCountExceeded:
                pager.shrink()
                continue
            pager.take(page)
        return {
            item.id: item
            for item in pager.items.values()
            if item.end > start and item.start < end  # EWS also returns items ending at the start
        }

    def _page(self, calendar_id: str, request: PageRequest, *, full: bool = False) -> ViewPage:
        try:
            account = self._ews()
            names: tuple[str | Field, ...] = BUSY_FIELDS
            if full:
                names = SYNC_FIELDS + ((IS_ORGANIZER,) if account.version.build >= EXCHANGE_2013 else ())
            return view_page(account, calendar_id, request, names)
        except LOST_FOLDER_ERRORS as exc:
            raise FolderLost(calendar_id) from exc

    # sync ------------------------------------------------------------------------------------------
    async def sync_events(
        self, calendar_id: str, cursor: str | None, window_start: datetime, window_end: datetime
    ) -> SyncBatch:
        """Polling with SyncFolderItems (providers.exchange.sync). Without a cursor: the folder's SyncState from the
        beginning (IdOnly pages of 512 changes), then the window's CalendarView in full. With one: the changes
        since its SyncState; none is a batch without changes (one request); any is the cursor's window read
        again in full (`full=True`: SyncFolderItems reports a series' master, not which occurrences moved). The
        SyncState is taken before the view is read, so a change between the two is read now and again at the
        next poll, never lost. An invalid or expired SyncState is SyncCursorExpired; a folder no longer readable
        CalendarAccessLost."""
        try:
            if cursor is None:
                state = await self._sync_state(calendar_id, None)
                return await self._full_sync(calendar_id, SyncCursor(state, window_start, window_end))
            known = SyncCursor.decode(cursor)
            changed, state = await self._changes_since(calendar_id, known.sync_state)
            following = replace(known, sync_state=state)
            if not changed:
                return SyncBatch(changed=[], removed=[], cursor=following.encode(), full=False)
            return await self._full_sync(calendar_id, following)
        except FolderLost as lost:
            raise CalendarAccessLost([calendar_id]) from lost

    async def _sync_state(self, calendar_id: str, sync_state: str | None) -> str:
        return (await self._changes_since(calendar_id, sync_state))[1]

    async def _changes_since(self, calendar_id: str, sync_state: str | None) -> tuple[int, str]:
        """(changes, the SyncState after them): SyncFolderItems page by page until IncludesLastItemInRange."""
        changes = 0
        for _ in range(MAX_SYNC_PAGES):
            page = await self._run(functools.partial(self._changes_page, calendar_id, sync_state))
            changes += page.changes
            if page.last or page.sync_state == sync_state:  # the same state again: nothing more to take
                return changes, page.sync_state
            sync_state = page.sync_state
        raise ProviderUnavailable("Exchange did not finish listing a calendar's changes; try again later")

    def _changes_page(self, calendar_id: str, sync_state: str | None) -> ChangesPage:
        try:
            return changes_page(self._ews(), calendar_id, sync_state)
        except LOST_FOLDER_ERRORS as exc:
            raise FolderLost(calendar_id) from exc

    async def _full_sync(self, calendar_id: str, cursor: SyncCursor) -> SyncBatch:
        """The cursor's window read in full, its views side by side within the FindItem budget as in get_busy."""
        start, end = cursor.window_start, cursor.window_end
        share = max(MIN_PAGE_SIZE, FIND_BUDGET // PARALLEL_VIEWS)

        async def view(w_start: datetime, w_end: datetime) -> dict[str, ViewItem]:
            async with self._view_turns:
                return await self._view_items(calendar_id, w_start, w_end, size=share, full=True)

        found: dict[str, ViewItem] = {}
        for part in await asyncio.gather(*(view(s, e) for s, e in time_windows(start, end, MAX_VIEW_SPAN))):
            found.update(part)
        events = sorted(
            (synced_event(item) for item in found.values() if not item.cancelled), key=lambda e: (e.start, e.id)
        )
        return SyncBatch(
            changed=events, removed=[], cursor=cursor.encode(), full=True, window_start=start, window_end=end
        )

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        """CreateItem; with a key, the item is stamped with it (MeetgraphKey) and every attempt first looks the key
        up in the folder (FindItem restricted on the property) and reuses what it finds. So a CreateItem that timed
        out, or that a crashed process sent, is followed by that lookup and never by a second CreateItem. Keyed
        creates in one mailbox are serialized within the process (EWS has no server-side uniqueness to lean on).
        Without a key, a CreateItem that may have reached the server is not sent again."""

        def create() -> str:
            try:
                folder = self._folder(calendar_id)
                if draft.key is not None:
                    existing = self._item_with_key(folder, draft.key)
                    if existing is not None:
                        return existing
                return self._create_item(folder, draft)
            except LOST_FOLDER_ERRORS as exc:
                raise CalendarAccessLost([calendar_id]) from exc

        def create_once_per_key() -> str:
            with self._create_lock:
                return create()

        if draft.key is None:
            return await self._run(create, idempotent=False)
        return await self._run(create_once_per_key)

    @staticmethod
    def _item_with_key(folder: Calendar, key: str) -> str | None:
        """The id of the folder's item stamped with `key` (FindItem, Shallow, IsEqualTo on the ExtendedFieldURI)."""
        found = [item for item in folder.filter(**{KEY_FIELD: key}).only("id") if not isinstance(item, Exception)]
        return str(found[0].id) if found else None

    def _create_item(self, folder: Calendar, draft: EventDraft) -> str:
        zone = ews_zone(windows_zone(draft.timezone, (draft.start, draft.end)))
        item = CalendarItem(
            account=self._ews(),
            folder=folder,
            subject=draft.summary,
            body=Body(draft.description) if draft.description else None,
            start=ews_time(draft.start).astimezone(zone),
            end=ews_time(draft.end).astimezone(zone),
            required_attendees=[
                EwsAttendee(mailbox=Mailbox(email_address=a.email, name=a.name)) for a in draft.attendees
            ]
            or None,
        )
        if draft.key is not None:
            setattr(item, KEY_FIELD, draft.key)
        item.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
        return str(item.id)

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        raise UnsupportedOperation("Meetings in an Exchange calendar cannot be rescheduled")

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        raise UnsupportedOperation("Meetings in an Exchange calendar cannot be cancelled")

    async def create_calendar(self, name: str) -> ProviderCalendar:
        """A calendar folder called `name` below the Calendar folder is reused; Exchange refuses a second one
        (ErrorFolderExists), which then answers with the folder a concurrent or earlier create made."""

        def existing() -> ProviderCalendar | None:
            for calendar in self._owned_calendars():
                if not calendar.is_primary and calendar.name.lower() == name.lower():
                    return calendar
            return None

        def create() -> ProviderCalendar:
            found = existing()
            if found is not None:
                return found
            folder = Calendar(parent=primary_calendar(self._ews()), name=name)
            try:
                folder.save()
            except ErrorFolderExists:
                found = existing()
                if found is None:
                    raise
                return found
            return ProviderCalendar(str(folder.id), name, False, AccessRole.OWNER)

        return await self._run(create)

    async def aclose(self) -> None:
        account, self._account = self._account, None
        if account is not None and self._accounts is None:  # a shared account stays open in its cache
            await asyncio.get_running_loop().run_in_executor(self._runtime.executor, close_protocol, account.protocol)
        if self._own_runtime:
            self._runtime.close()

    async def shared_calendar(self, address: str) -> ProviderCalendar:
        """GetFolder on the distinguished calendar of mailbox `address` (providers.exchange.shared); its busy time is
        then read by folder id like the account's own calendars."""

        from providers.exchange.shared import shared_calendar_folder

        def find() -> ProviderCalendar:
            folder = shared_calendar_folder(self._ews(), address)
            return ProviderCalendar(folder.id, folder.name, False, folder.role)

        return await self._run(find)
