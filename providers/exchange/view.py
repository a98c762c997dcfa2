"""Busy time from a CalendarView (FindItem), parsed lean."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import NamedTuple

import requests
from exchangelib import Account
from exchangelib.errors import (
    ErrorExceededFindCountLimit,
    MalformedResponseError,
    SOAPError,
)
from exchangelib.ewsdatetime import UTC, EWSDateTime
from exchangelib.fields import BooleanField, Field, FieldPath
from exchangelib.folders.queryset import SHALLOW
from exchangelib.items import ID_ONLY, CalendarItem
from exchangelib.properties import CalendarView, FolderId
from exchangelib.services import FindItem
from exchangelib.util import SOAPNS, TNS, ParseError, to_xml

from providers.base import ProviderUnavailable
from scheduling.free_busy import blocks_time

BUSY_FIELDS = ("start", "end", "legacy_free_busy_status", "is_cancelled")
IS_ORGANIZER = BooleanField("is_organizer", field_uri="calendar:IsOrganizer", is_read_only=True)
"""calendar:IsOrganizer (Exchange 2013 on), which exchangelib's CalendarItem does not define: asked for by URI."""

PAGE_SIZE = 500
"""Items asked of one CalendarView page (MaxEntriesReturned): half of Exchange's default EWSFindCountLimit (1,000),
the most one FindItem may answer, and a budget that concurrent FindItems of one mailbox share."""
MAX_PAGE_SIZE = 1000
"""A page grows up to this when items starting at one instant fill it (the window cannot slide past them)."""
MIN_PAGE_SIZE = 16
FIND_BUDGET = 900
"""Items all FindItems of one get_busy may have in flight together: below Exchange's default EWSFindCountLimit
(1,000), which the concurrent FindItems of one mailbox share."""
PARALLEL_VIEWS = 3
"""CalendarViews of one get_busy in flight at once, each with its share of FIND_BUDGET as its page size."""
"""ErrorExceededFindCountLimit halves the page; below this the server is unavailable for us."""
MAX_PAGES = 100
"""Pages of one view at most (a 42-day window of 50,000 items at the normal page size): a server that never lets a
view end is unavailable, never a loop."""


def ews_time(value: datetime) -> EWSDateTime:
    return EWSDateTime.from_datetime(value.astimezone(timezone.utc)).astimezone(UTC)


class ViewItem(NamedTuple):
    """What busy time needs of one CalendarView item: `status` is its LegacyFreeBusyStatus as sent (None: absent).
    A sync reads more of it (None where the view did not ask): its ChangeKey, Subject, the extended property
    meetgraph stamps its own items with, IsOrganizer."""

    id: str
    start: datetime
    end: datetime
    status: str | None
    cancelled: bool
    version: str | None = None
    subject: str | None = None
    key: str | None = None
    organizer: bool | None = None


def blocks(item: ViewItem) -> bool:
    """Whether the item makes its time unavailable: by its free/busy status; a cancelled item never does."""
    return not item.cancelled and blocks_time(item.status)


class ViewPage(NamedTuple):
    """One CalendarView answer: its items (by start) and whether they reach the view's last item."""

    items: list[ViewItem]
    last: bool


class FindCountExceeded(Exception):
    """The page asked for more items than the mailbox's FindItem budget has left (ErrorExceededFindCountLimit)."""


def parse_ews_time(value: str) -> datetime:
    """An xs:dateTime as EWS sends it (`2026-12-07T09:00:00Z`, or with an offset) as an aware UTC datetime."""
    text = value.strip()
    parsed = datetime.fromisoformat(f"{text[:-1]}+00:00" if text.endswith("Z") else text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)  # the account's default time zone is UTC
    return parsed.astimezone(timezone.utc)


_ITEM_ID = f"{{{TNS}}}ItemId"
_START = f"{{{TNS}}}Start"
_END = f"{{{TNS}}}End"
_FREE_BUSY = f"{{{TNS}}}LegacyFreeBusyStatus"
_CANCELLED = f"{{{TNS}}}IsCancelled"
_SUBJECT = f"{{{TNS}}}Subject"
_EXTENDED = f"{{{TNS}}}ExtendedProperty"
_VALUE = f"{{{TNS}}}Value"
_IS_ORGANIZER = f"{{{TNS}}}IsOrganizer"


def lean_soap_parts(response: requests.Response) -> tuple[object, object]:
    """The SOAP header and body of a downloaded answer, parsed in one go (see BusyFindItem)."""
    try:
        root = to_xml(response.content)
    except ParseError as exc:
        raise SOAPError(f"Bad SOAP response: {exc}") from exc
    header = root.find(f"{{{SOAPNS}}}Header")
    body = root.find(f"{{{SOAPNS}}}Body")
    if body is None:
        raise MalformedResponseError("No Body element in SOAP response")
    return header, body


def is_true(value: str | None) -> bool:
    return (value or "").strip() in ("true", "1")


class BusyFindItem(FindItem):  # type: ignore[misc]
    """exchangelib's FindItem for one CalendarView page, reading only the busy-time properties of each item.

    The request, version negotiation and per-folder errors stay exchangelib's; the paging is ViewPager's, one
    request per page (exchangelib's own loop re-requests a truncated view without end). The parse is lean too:
    exchangelib builds a full CalendarItem per row and hands the already downloaded body to lxml one byte at a time
    (`response.iter_content()`), seconds of CPU for a few thousand items; here the body is parsed in one go and each
    row read with four lookups.
    """

    @classmethod
    def _get_soap_parts(cls, response: requests.Response) -> tuple[object, object]:
        return lean_soap_parts(response)

    def _elem_to_obj(self, elem: object) -> ViewItem:
        item_id = version = start = end = free_busy = cancelled = subject = key = organizer = None
        for child in elem:  # type: ignore[attr-defined]
            tag = child.tag
            if tag == _START:
                start = child.text
            elif tag == _END:
                end = child.text
            elif tag == _ITEM_ID:
                item_id, version = child.get("Id"), child.get("ChangeKey")
            elif tag == _FREE_BUSY:
                free_busy = child.text
            elif tag == _CANCELLED:
                cancelled = child.text
            elif tag == _SUBJECT:
                subject = child.text or ""
            elif tag == _EXTENDED:  # only the one extended property a view asks for (meetgraph's key)
                key = child.findtext(_VALUE)
            elif tag == _IS_ORGANIZER:
                organizer = is_true(child.text)
        if not item_id or not start or not end:
            raise MalformedResponseError("A CalendarView item without ItemId, Start or End")
        return ViewItem(
            id=item_id,
            start=parse_ews_time(start),
            end=parse_ews_time(end),
            status=free_busy,
            cancelled=is_true(cancelled),
            version=version,
            subject=subject,
            key=key,
            organizer=organizer,
        )

    def _get_page(self, message: object) -> tuple[object, None]:
        """The page's m:RootFolder (or the folder's error) as sent; the paging is ours (see ViewPager)."""
        return self._get_element_container(message=message, name=self.paging_container_name), None

    def page(
        self, calendar_id: str, start: datetime, end: datetime, size: int, names: Sequence[str | Field] = BUSY_FIELDS
    ) -> ViewPage:
        """One FindItem request: the first `size` items of the folder's CalendarView [start, end), with the
        CalendarItem fields `names` (exchangelib's field names, or fields exchangelib does not define)."""
        fields = [
            FieldPath(field=name if isinstance(name, Field) else CalendarItem.get_field_by_fieldname(name))
            for name in names
        ]
        self.additional_fields, self.shape = fields, ID_ONLY
        payload = self.get_payload(
            folders=[FolderId(id=calendar_id)],
            additional_fields=fields,
            restriction=None,
            order_fields=None,
            query_string=None,
            shape=ID_ONLY,
            depth=SHALLOW,
            calendar_view=CalendarView(start=ews_time(start), end=ews_time(end), max_items=size),
            page_size=size,
        )
        try:
            answers = [answer for answer, _ in self._get_elements(payload=payload)]
        except ErrorExceededFindCountLimit as exc:
            raise FindCountExceeded() from exc
        if len(answers) != 1:
            raise MalformedResponseError(f"Expected one FindItem response message, got {len(answers)}")
        root = answers[0]
        if isinstance(root, ErrorExceededFindCountLimit):
            raise FindCountExceeded() from root
        if isinstance(root, Exception):
            raise root
        if not hasattr(root, "find"):
            raise MalformedResponseError("A FindItem response message without its RootFolder")
        container = root.find(self.element_container_name)  # type: ignore[attr-defined]
        items = [] if container is None else [self._elem_to_obj(elem) for elem in container]
        last = (root.get("IncludesLastItemInRange") or "true").strip().lower() in ("true", "1")  # type: ignore[attr-defined]
        return ViewPage(items, last)


def view_page(
    account: Account, calendar_id: str, request: PageRequest, names: Sequence[str | Field] = BUSY_FIELDS
) -> ViewPage:
    """One page of one folder's CalendarView (one FindItem request, never exchangelib's paging loop)."""
    return BusyFindItem(account=account).page(calendar_id, request.start, request.end, request.size, names)


class PageRequest(NamedTuple):
    start: datetime
    end: datetime
    size: int


class ViewPager:
    """Reads one CalendarView [start, end) page by page, sliding the window's start to the last item's start while
    the server says IncludesLastItemInRange="false".

    Complete because a CalendarView comes sorted by start: every item starting before the last one returned was in
    the page (or an earlier one), and items starting at that instant come again in the next page (deduplicated by
    ItemId). When a page cannot slide the window (all its items start at or before the window's start: ties or long
    items filling it) the page grows, up to MAX_PAGE_SIZE; ErrorExceededFindCountLimit halves it (and caps the
    growth). So every page either moves the window forward or changes the size within bounds, and MAX_PAGES stops a
    server that still never ends the view: ProviderUnavailable, not a stuck thread.
    """

    def __init__(
        self,
        start: datetime,
        end: datetime,
        *,
        size: int = PAGE_SIZE,
        max_size: int = MAX_PAGE_SIZE,
        min_size: int = MIN_PAGE_SIZE,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.items: dict[str, ViewItem] = {}
        self.pages = 0
        self._start, self._end = start, end
        self._size, self._max_size, self._min_size, self._max_pages = size, max_size, min_size, max_pages
        self._done = False

    def next_request(self) -> PageRequest | None:
        """The next page to ask for, or None when the view has been read whole."""
        if self._done:
            return None
        if self.pages >= self._max_pages:
            raise ProviderUnavailable(
                f"Exchange did not finish a calendar view within {self._max_pages} pages; try again later"
            )
        return PageRequest(self._start, self._end, self._size)

    def take(self, page: ViewPage) -> None:
        self.pages += 1
        new = sum(1 for item in page.items if item.id not in self.items)
        for item in page.items:
            self.items[item.id] = item
        if page.last:
            self._done = True
            return
        latest = max((item.start for item in page.items), default=None)
        if latest is not None and latest > self._start:
            self._start = latest
            if 2 * new < len(page.items):  # mostly long items seen before: a larger page gets further
                self._size = min(self._size * 2, self._max_size)
            return
        if self._size >= self._max_size:
            raise ProviderUnavailable(
                "Exchange keeps answering a calendar view without its remaining items; try again later"
            )
        self._size = min(self._size * 2, self._max_size)

    def shrink(self) -> None:
        """The page asked for more than the mailbox's FindItem budget has left: ask for half as many."""
        self.pages += 1
        if self._size // 2 < self._min_size:
            raise ProviderUnavailable("Exchange is too busy to list this calendar (FindItem limit); try again later")
        self._size //= 2
        self._max_size = self._size
