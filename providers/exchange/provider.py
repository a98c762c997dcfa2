"""One Exchange mailbox as a CalendarProvider."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, TypeVar

from exchangelib import Account, EWSTimeZone
from exchangelib.errors import (
    ErrorFolderExists,
)
from exchangelib.extended_properties import ExtendedProperty
from exchangelib.folders import Calendar, FolderCollection
from exchangelib.folders.queryset import DEEP
from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY, CalendarItem
from exchangelib.properties import Attendee as EwsAttendee
from exchangelib.properties import Body, Mailbox

from providers.base import (
    BusyByCalendar,
    CalendarAccessLost,
    CalendarProvider,
    EventDraft,
    ProviderAuthError,
    ProviderCalendar,
    UnsupportedOperation,
)
from providers.exchange.credentials import ExchangeCredentials
from providers.exchange.errors import LOST_FOLDER_ERRORS, FolderLost
from providers.exchange.session import ExchangeAccounts, close_protocol, open_account, with_retry
from providers.exchange.view import calendar_view, ews_time
from providers.http import RetryPolicy
from providers.intervals import time_windows
from providers.outbound import OutboundPolicy
from providers.windows_zones import WireZone, windows_zone
from scheduling.calendars import EXCHANGE_CAPABILITIES, AccessRole, Capabilities
from scheduling.slots import BusyInterval

T = TypeVar("T")

MAX_VIEW_SPAN = timedelta(days=42)
"""Longest CalendarView window we ask for (EWS rejects or truncates very long views)."""
KEY_FIELD = "meetgraph_key"


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
    ) -> None:
        """`accounts`: the process-wide cache to take the opened Account from (and leave it in when closed);
        without it the provider opens its own and closes it in aclose(). `outbound`: where the (user-given) EWS URL
        may connect; public https only by default."""
        self._credentials = credentials
        self._retry = retry or RetryPolicy()
        self._outbound = outbound or OutboundPolicy()
        self._accounts = accounts
        self._account: Account | None = None
        self._account_lock = threading.Lock()
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
                    self._account = open_account(self._credentials)
            return self._account

    def _forget_refused_account(self) -> None:
        """After a refused login, a shared account is not kept for the next request (it may hold stale sessions)."""
        with self._account_lock:
            account, self._account = self._account, None
        if account is not None and self._accounts is not None:
            self._accounts.discard(self._credentials, account)

    def _folder(self, calendar_id: str) -> Calendar:
        account = self._ews()
        primary = account.calendar
        if calendar_id == primary.id:
            return primary
        return Calendar(root=account.root, id=calendar_id)

    async def _run(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        try:
            return await with_retry(self._retry, fn, self._outbound, idempotent=idempotent)
        except ProviderAuthError:
            self._forget_refused_account()
            raise

    # CalendarProvider ---------------------------------------------------------------------------
    async def account_email(self) -> str:
        return self._credentials.email

    async def list_calendars(self) -> list[ProviderCalendar]:
        return await self._run(self._owned_calendars)

    def _owned_calendars(self) -> list[ProviderCalendar]:
        primary = self._ews().calendar
        calendars = [ProviderCalendar(primary.id, primary.name or "Calendar", True, AccessRole.OWNER)]
        found = FolderCollection(account=self._ews(), folders=[primary]).find_folders(depth=DEEP)
        for folder in found:
            if isinstance(folder, Exception):
                raise folder
            if isinstance(folder, Calendar):
                calendars.append(ProviderCalendar(folder.id, folder.name or "", False, AccessRole.OWNER))
        return calendars

    async def get_busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> BusyByCalendar:
        jobs = [
            (cid, w_start, w_end) for cid in calendar_ids for w_start, w_end in time_windows(start, end, MAX_VIEW_SPAN)
        ]
        results = await asyncio.gather(
            *(self._run(functools.partial(self._view, cid, w_start, w_end)) for cid, w_start, w_end in jobs),
            return_exceptions=True,
        )
        lost: list[str] = []
        by_item: dict[str, dict[str, BusyInterval]] = {cid: {} for cid in calendar_ids}
        for (cid, _, _), result in zip(jobs, results):
            if isinstance(result, FolderLost):
                if cid not in lost:
                    lost.append(cid)
            elif isinstance(result, BaseException):
                raise result
            else:
                by_item[cid].update(result)
        if lost:
            raise CalendarAccessLost(lost)
        return BusyByCalendar(
            {cid: sorted(spans.values(), key=lambda i: (i.start, i.end)) for cid, spans in by_item.items()}
        )

    def _view(self, calendar_id: str, start: datetime, end: datetime) -> dict[str, BusyInterval]:
        """Busy items of one folder overlapping [start, end), by item id (one CalendarView request)."""
        try:
            busy: dict[str, BusyInterval] = {}
            for item in calendar_view(self._ews(), calendar_id, start, end):
                if isinstance(item, LOST_FOLDER_ERRORS):
                    raise FolderLost(calendar_id)
                if isinstance(item, Exception):
                    raise item
                if item.free or item.cancelled:
                    continue
                if item.end <= start or item.start >= end:
                    continue  # EWS also returns items that end exactly at the view's start
                busy[item.id] = BusyInterval(item.start, item.end)
            return busy
        except LOST_FOLDER_ERRORS as exc:
            raise FolderLost(calendar_id) from exc

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
            folder = Calendar(parent=self._ews().calendar, name=name)
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
        if account is None or self._accounts is not None:
            return  # a shared account stays open in its cache for the next request
        await asyncio.to_thread(close_protocol, account.protocol)
