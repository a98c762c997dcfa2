"""Calendar sync for Exchange by polling: SyncFolderItems tells whether a calendar folder changed, cheaply (one
IdOnly request from a SyncState); the window's CalendarView, which expands series into their occurrences (which
SyncFolderItems does not: it reports a series' master), is read again only when it did.

Exchange's push (EWS push or streaming notifications) needs a listener per mailbox reachable from the Exchange
server, which a hosted service cannot count on: its calendars are polled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import requests
from exchangelib import Account
from exchangelib.errors import ErrorInvalidSyncStateData
from exchangelib.items import ID_ONLY
from exchangelib.properties import FolderId
from exchangelib.services import SyncFolderItems

from providers.base import SyncCursorExpired, SyncedEvent
from providers.exchange.view import ViewItem, blocks, lean_soap_parts

SYNC_PAGE = 512
"""MaxChangesReturned of each SyncFolderItems: the most Exchange allows (1 to 512)."""
MAX_SYNC_PAGES = 400
"""SyncFolderItems pages of one sync at most (200,000 changes): a server that never says IncludesLastItemInRange
is unavailable, never a loop."""
EXPIRED = "Exchange no longer knows this calendar's sync state; the calendar is read again in full"


class ChangesPage(NamedTuple):
    """One SyncFolderItems answer: how many changes it reported, the SyncState after them, and whether they
    reach the last change (IncludesLastItemInRange)."""

    changes: int
    sync_state: str
    last: bool


class FolderChanges(SyncFolderItems):  # type: ignore[misc]
    """exchangelib's SyncFolderItems for one page, IdOnly: only whether and how much changed is read (the changed
    items themselves are read from the CalendarView, occurrences and all). The paging is ours, one request per
    page, each retried on its own; the answer is parsed in one go (see view.BusyFindItem)."""

    @classmethod
    def _get_soap_parts(cls, response: requests.Response) -> tuple[object, object]:
        return lean_soap_parts(response)

    def _elem_to_obj(self, elem: object) -> str:
        return str(self.change_types_map[elem.tag])  # type: ignore[attr-defined]

    def page(self, calendar_id: str, sync_state: str | None) -> ChangesPage:
        """One SyncFolderItems request from `sync_state` (None: from the beginning). ErrorInvalidSyncStateData
        (an expired or foreign state) is SyncCursorExpired; other refusals raise as exchangelib's errors."""
        self.sync_state = sync_state
        payload = self.get_payload(
            folder=FolderId(id=calendar_id),
            shape=ID_ONLY,
            additional_fields=[],
            sync_state=sync_state,
            ignore=None,
            max_changes_returned=SYNC_PAGE,
            sync_scope=None,
        )
        try:
            found = list(self._elems_to_objs(self._get_elements(payload=payload)))
        except ErrorInvalidSyncStateData as exc:
            raise SyncCursorExpired(EXPIRED) from exc
        for change in found:
            if isinstance(change, ErrorInvalidSyncStateData):
                raise SyncCursorExpired(EXPIRED) from change
            if isinstance(change, Exception):
                raise change
        if not self.sync_state:
            raise SyncCursorExpired(EXPIRED)  # a success without a state to continue from: start again
        return ChangesPage(len(found), str(self.sync_state), bool(self.includes_last_item_in_range))


def changes_page(account: Account, calendar_id: str, sync_state: str | None) -> ChangesPage:
    return FolderChanges(account=account).page(calendar_id, sync_state)


@dataclass(frozen=True)
class SyncCursor:
    """What sync_events hands back as its cursor (opaque to callers): the folder's SyncState and the window the
    last full read listed, which a change makes it read again."""

    sync_state: str
    window_start: datetime
    window_end: datetime

    def encode(self) -> str:
        return json.dumps(
            {
                "sync_state": self.sync_state,
                "window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, cursor: str) -> SyncCursor:
        """A cursor this module wrote; anything else (another provider's, a damaged one) is SyncCursorExpired, so
        the caller reads the calendar again in full."""
        try:
            found = json.loads(cursor)
            decoded = cls(
                str(found["sync_state"]),
                datetime.fromisoformat(found["window_start"]),
                datetime.fromisoformat(found["window_end"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SyncCursorExpired(EXPIRED) from exc
        if not decoded.sync_state or decoded.window_start.tzinfo is None or decoded.window_end.tzinfo is None:
            raise SyncCursorExpired(EXPIRED)
        return decoded


def synced_event(item: ViewItem) -> SyncedEvent:
    """A CalendarView item (an occurrence, for series) as the store keeps it."""
    return SyncedEvent(
        id=item.id,
        start=item.start,
        end=item.end,
        blocks=blocks(item),
        status=item.status or "",
        summary=item.subject or "",
        organized_by_account=bool(item.organizer),
        version=item.version,
        key=item.key,
    )
