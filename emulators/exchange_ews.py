"""EWS SOAP operations over EmulatorState: just enough of Exchange Web Services for exchangelib.

The wire model: each account has a root folder and its primary calendar (the distinguished "calendar" folder);
its other owned calendars are subfolders of the Calendar folder. Folder ids on the wire are the EmulatorState
calendar ids, so the provider and the state agree on ids. The XML is written and read by emulators/exchange_wire.py.
"""

from __future__ import annotations

import base64
import gzip
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from xml.sax.saxutils import quoteattr

from emulators.exchange_wire import (
    ItemShape,
    M,
    MessageError,
    SoapFault,
    T,
    WireFolder,
    access_denied,
    change_key,
    child_list,
    extended_property_key,
    folder_xml,
    item_change_key,
    item_shape,
    item_time_zone,
    item_xml,
    not_found,
    parse_attendees,
    parse_extended_properties,
    parse_time,
    per_element,
    root_id,
    text,
)
from emulators.state import AccessRole, EmulatedAccount, EmulatedCalendar, EmulatedEvent, EmulatorState

MAX_CALENDAR_VIEW = timedelta(days=2 * 365)


@dataclass
class EwsTraffic:
    """What the emulator was asked, for tests: operation names and every CalendarView window."""

    operations: list[str] = field(default_factory=list)
    calendar_views: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    """(folder id, StartDate, EndDate) of each FindItem CalendarView, per folder."""
    view_sizes: list[int | None] = field(default_factory=list)
    """MaxEntriesReturned of each FindItem CalendarView (None: not sent), in the order of `calendar_views`."""


class SyncBook:
    """What SyncFolderItems needs beyond EmulatorState: the change number each event was created at (a change after
    a SyncState is an Update of an item the client knows, or the Create of a new one). Told of every change through
    `state.change_listeners`; events older than the book count as created at their last change."""

    def __init__(self, state: EmulatorState) -> None:
        self._created: dict[str, int] = {}
        with state.lock:
            for calendar in state.calendars.values():
                for event in calendar.events.values():
                    self._created[event.id] = event.seq
            state.change_listeners.append(self._changed)

    def _changed(self, event: EmulatedEvent) -> None:
        self._created.setdefault(event.id, event.seq)

    def created_at(self, event: EmulatedEvent) -> int:
        return self._created.get(event.id, event.seq)


@dataclass
class EwsContext:
    state: EmulatorState
    account: EmulatedAccount
    traffic: EwsTraffic
    sync: SyncBook
    created_events: int = 0
    """Calendar items this request stored (a lost answer, Faults.lose_next_create, applies to such a request)."""

    # folders -----------------------------------------------------------------
    def root(self) -> WireFolder:
        return WireFolder(root_id(self.account.email), "Root", None, None)

    def calendar_folder(self, calendar: EmulatedCalendar, role: AccessRole) -> WireFolder:
        owner = self.state.account(calendar.owner_email)
        primary = owner is not None and owner.primary_calendar_id == calendar.id
        parent = root_id(calendar.owner_email) if primary or owner is None else owner.primary_calendar_id
        return WireFolder(calendar.id, calendar.name, parent, calendar, role)

    def folder_by_id(self, folder_id: str) -> WireFolder:
        if folder_id == root_id(self.account.email):
            return self.root()
        calendar = self.state.calendars.get(folder_id)
        if calendar is None:
            raise not_found()
        role = self.state.role(self.account.email, folder_id)
        if role is None:
            owned = calendar.owner_email == self.account.email.lower()
            raise not_found() if owned else access_denied()
        return self.calendar_folder(calendar, role)

    def distinguished(self, name: str, mailbox: str | None) -> WireFolder:
        owner = self.state.account(mailbox) if mailbox else self.account
        if owner is None:
            raise MessageError("ErrorNonExistentMailbox", f"No mailbox with such guid or address: {mailbox}")
        if name in ("root", "msgfolderroot"):
            if owner is not self.account:
                raise access_denied()
            return self.root()
        if name == "calendar":
            if owner is not self.account:
                return self.shared_calendar(owner)
            return self.folder_by_id(owner.primary_calendar_id)
        raise MessageError("ErrorFolderNotFound", f"The distinguished folder {name} was not found.")

    def shared_calendar(self, owner: EmulatedAccount) -> WireFolder:
        """Another mailbox's Calendar folder, opened by address. Only a share that makes the folder visible
        (Reviewer and up) opens it; free/busy only (AvailabilityOnly, what Exchange grants everyone by default)
        does not, so it answers ErrorAccessDenied like no share at all."""
        folder = self.folder_by_id(owner.primary_calendar_id)
        if folder.role is AccessRole.FREE_BUSY:
            raise access_denied()
        return folder

    def resolve(self, elem: ET.Element) -> WireFolder:
        """A t:FolderId or t:DistinguishedFolderId element as a folder this account may see."""
        if elem.tag == f"{T}FolderId":
            return self.folder_by_id(elem.get("Id", ""))
        if elem.tag == f"{T}DistinguishedFolderId":
            mailbox = text(elem.find(f"{T}Mailbox/{T}EmailAddress")) or None
            return self.distinguished(elem.get("Id", ""), mailbox)
        raise SoapFault("ErrorSchemaValidation", f"Unexpected folder id element {elem.tag}")

    def children(self, parent: WireFolder, deep: bool) -> list[WireFolder]:
        own = [
            self.calendar_folder(calendar, role)
            for calendar, role in self.state.visible_calendars(self.account.email)
            if calendar.owner_email == self.account.email.lower()
        ]
        primary_id = self.account.primary_calendar_id
        if parent.calendar is None:
            top = [f for f in own if f.id == primary_id]
            return top + ([f for f in own if f.id != primary_id] if deep else [])
        if parent.id == primary_id:
            return [f for f in own if f.id != primary_id]
        return []


# operations ----------------------------------------------------------------------
def get_folder(ctx: EwsContext, request: ET.Element) -> str:
    ids = child_list(request, f"{M}FolderIds")

    def answer(elem: ET.Element) -> str:
        folder = ctx.resolve(elem)
        return f"<m:Folders>{folder_xml(folder, len(ctx.children(folder, deep=False)))}</m:Folders>"

    return per_element("GetFolder", ids, answer)


def find_folder(ctx: EwsContext, request: ET.Element) -> str:
    deep = request.get("Traversal") == "Deep"
    parents = child_list(request, f"{M}ParentFolderIds")

    def answer(elem: ET.Element) -> str:
        children = ctx.children(ctx.resolve(elem), deep=deep)
        folders = "".join(folder_xml(f, len(ctx.children(f, deep=False))) for f in children)
        return (
            f'<m:RootFolder IndexedPagingOffset="{len(children)}" TotalItemsInView="{len(children)}"'
            f' IncludesLastItemInRange="true"><t:Folders>{folders}</t:Folders></m:RootFolder>'
        )

    return per_element("FindFolder", parents, answer)


Matcher = Callable[[EmulatedEvent], bool]


def restriction_matcher(restriction: ET.Element | None) -> Matcher:
    """A FindItem m:Restriction as a predicate. The emulator knows IsEqualTo on an ExtendedFieldURI against a
    Constant (alone or under And), which is how a client finds the items it stamped with a property."""
    if restriction is None:
        return lambda event: True
    if len(restriction) != 1:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: one search expression.")
    return _expression(restriction[0])


def _expression(elem: ET.Element) -> Matcher:
    if elem.tag == f"{T}And":
        parts = [_expression(child) for child in elem]
        return lambda event: all(part(event) for part in parts)
    uri = elem.find(f"{T}ExtendedFieldURI")
    constant = elem.find(f"{T}FieldURIOrConstant/{T}Constant")
    if elem.tag != f"{T}IsEqualTo" or uri is None or constant is None:
        raise SoapFault("ErrorInvalidRequest", f"The emulator does not support this restriction: {elem.tag}.")
    key, value = extended_property_key(uri), constant.get("Value", "")
    return lambda event: event.properties.get(key) == value


def find_count_exceeded(limit: int) -> MessageError:
    """What Exchange answers a FindItem that would return more items than the caller's EWSFindCountLimit."""
    return MessageError(
        "ErrorExceededFindCountLimit",
        "You have exceeded the maximum number of objects that can be returned for the find operation. "
        "Use paging to reduce the result size and try your request again.",
        {"PolicyLimit": str(limit)},
    )


def _entries(view: ET.Element | None) -> int | None:
    value = None if view is None else view.get("MaxEntriesReturned")
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: MaxEntriesReturned {value}.")
    return int(value)


def page_of(
    events: list[EmulatedEvent],
    view: ET.Element | None,
    shape: ItemShape,
    *,
    indexed: bool,
    limit: int,
    available: int,
) -> str:
    """One page of `events` as a FindItem m:RootFolder, paged as Exchange pages: at most MaxEntriesReturned items
    and never more than the caller's find count budget has `available` (of `limit`); without MaxEntriesReturned,
    more items than that is ErrorExceededFindCountLimit, as is any find with nothing left in the budget.
    IncludesLastItemInRange says whether the page reaches the last item; an indexed view (IndexedPageItemView)
    starts at its Offset and names the next one in IndexedPagingOffset."""
    offset = int(view.get("Offset", "0")) if indexed and view is not None else 0
    remaining = events[offset:]
    wanted = _entries(view)
    if (wanted is None and len(remaining) > available) or available < 1:
        raise find_count_exceeded(limit)
    page = remaining[: min(wanted or available, available)]
    last = offset + len(page) >= len(events)
    paging = f' IndexedPagingOffset="{offset + len(page)}"' if indexed else ""
    items = "".join([item_xml(e, shape) for e in page])
    return (
        f'<m:RootFolder{paging} TotalItemsInView="{len(events)}" IncludesLastItemInRange="{str(last).lower()}">'
        f"<t:Items>{items}</t:Items></m:RootFolder>"
    )


def find_item(ctx: EwsContext, request: ET.Element) -> str:
    parents = child_list(request, f"{M}ParentFolderIds")
    view = request.find(f"{M}CalendarView")
    indexed_view = request.find(f"{M}IndexedPageItemView")
    shape = item_shape(request)
    restriction = request.find(f"{M}Restriction")
    matches = restriction_matcher(restriction)

    def calendar_view(folder: WireFolder, calendar: EmulatedCalendar, view: ET.Element) -> list[EmulatedEvent]:
        """Single items and occurrences of series in the view, by start (a CalendarView expands series)."""
        start, end = parse_time(view.get("StartDate", "")), parse_time(view.get("EndDate", ""))
        if end - start > MAX_CALENDAR_VIEW:
            raise MessageError("ErrorCalendarViewRangeTooBig", "The time window of the CalendarView is too big.")
        ctx.traffic.calendar_views.append((folder.id, start, end))
        ctx.traffic.view_sizes.append(_entries(view))
        # Real EWS also returns items ending exactly at StartDate.
        found = ctx.state.occurrences(calendar.id, start - timedelta(seconds=1), end)
        return [e for e in found if e.end >= start]

    def answer(elem: ET.Element) -> str:
        if view is not None and restriction is not None:
            raise MessageError("ErrorInvalidRestriction", "Restrictions can't be used with a CalendarView.")
        folder = ctx.resolve(elem)
        if folder.calendar is None:
            events: list[EmulatedEvent] = []
        elif folder.role is AccessRole.FREE_BUSY:
            raise access_denied()
        elif view is not None:
            events = calendar_view(folder, folder.calendar, view)
        else:
            events = sorted(folder.calendar.events.values(), key=lambda e: (e.start, e.id))
        events = [e for e in events if matches(e)]
        return page_of(
            events,
            view if view is not None else indexed_view,
            shape,
            indexed=view is None,
            limit=ctx.state.find_count_limit,
            available=ctx.state.find_count_limit - ctx.state.find_count_in_use,
        )

    return per_element("FindItem", parents, answer)


def create_item(ctx: EwsContext, request: ET.Element) -> str:
    invitations = request.get("SendMeetingInvitations", "SendToNone")
    target = request.find(f"{M}SavedItemFolderId")
    items = child_list(request, f"{M}Items")

    def answer(item: ET.Element) -> str:
        if item.tag != f"{T}CalendarItem":
            raise MessageError("ErrorInvalidRequest", "Only calendar items can be created here.")
        if target is not None and len(target):
            folder = ctx.resolve(target[0])
        else:
            folder = ctx.distinguished("calendar", None)
        if folder.calendar is None or folder.role not in (AccessRole.OWNER, AccessRole.WRITER):
            raise access_denied()
        start, end = text(item.find(f"{T}Start")), text(item.find(f"{T}End"))
        if not start or not end:
            raise MessageError("ErrorInvalidRequest", "Start and End are required.")
        attendees = parse_attendees(item)
        status = text(item.find(f"{T}LegacyFreeBusyStatus")) or "Busy"
        zone = item_time_zone(item)
        event = ctx.state.add_event(
            folder.calendar.id,
            parse_time(start),
            parse_time(end),
            text(item.find(f"{T}Subject")),
            attendees=attendees,
            description=text(item.find(f"{T}Body")) or None,
            busy=status != "Free",
            invitations_sent=bool(attendees) and invitations != "SendToNone",
            properties=parse_extended_properties(item),
            timezone=zone,
        )
        ctx.created_events += 1
        return (
            f"<m:Items><t:CalendarItem><t:ItemId Id={quoteattr(event.id)}"
            f" ChangeKey={quoteattr(item_change_key(event))}/></t:CalendarItem></m:Items>"
        )

    return per_element("CreateItem", items, answer)


MAX_SYNC_CHANGES = 512
"""SyncFolderItems' MaxChangesReturned is 1 to 512 (types schema); anything else fails schema validation."""
INVALID_SYNC_STATE = "Synchronization state data is corrupt or otherwise invalid."
SYNC_SCOPES = ("NormalItems", "NormalAndAssociatedItems")


@dataclass(frozen=True)
class SyncPoint:
    """What a SyncState remembers: the change number the client has every change up to (`progress`), and where
    the run of pages it belongs to started (`base`: the client knew the folder as of then). An item created after
    `base` is a Create, however many pages the run takes; one created after `progress` was never reported."""

    base: int
    progress: int


def sync_state_token(calendar_id: str, point: SyncPoint, issued: int) -> str:
    """An opaque SyncState: the folder, the SyncPoint, and the change number it was issued at (what expiry,
    EmulatorState.expire_sync_state, compares)."""
    found = {"f": calendar_id, "b": point.base, "n": point.progress, "i": issued}
    return base64.b64encode(gzip.compress(json.dumps(found, separators=(",", ":")).encode(), mtime=0)).decode()


def read_sync_state(ctx: EwsContext, calendar_id: str, token: str) -> SyncPoint:
    """The SyncPoint of a SyncState issued for this folder and not expired; else ErrorInvalidSyncStateData."""
    try:
        found = json.loads(gzip.decompress(base64.b64decode(token.strip(), validate=True)))
        folder, base, progress, issued = found["f"], found["b"], found["n"], found["i"]
    except (ValueError, OSError, EOFError, KeyError, TypeError) as exc:
        raise MessageError("ErrorInvalidSyncStateData", INVALID_SYNC_STATE) from exc
    valid = all(isinstance(n, int) for n in (base, progress, issued)) and base <= progress <= issued
    if folder != calendar_id or not valid or not ctx.state.sync_state_valid(calendar_id, issued):
        raise MessageError("ErrorInvalidSyncStateData", INVALID_SYNC_STATE)
    return SyncPoint(base, progress)


def _max_changes(request: ET.Element) -> int:
    value = text(request.find(f"{M}MaxChangesReturned")).strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_SYNC_CHANGES:
        raise SoapFault(
            "ErrorSchemaValidation",
            f"The request failed schema validation: The 'MaxChangesReturned' element is invalid - The value "
            f"'{value}' is invalid according to its datatype 'MaxSyncChangesReturnedType'.",
        )
    return int(value)


def sync_folder_items(ctx: EwsContext, request: ET.Element) -> str:
    """Changes to a calendar folder's items since a SyncState (none: from the beginning, every item a Create),
    oldest change first, at most MaxChangesReturned, with the SyncState to continue from and whether it reached
    the last change (IncludesLastItemInRange). Series come as their RecurringMaster (no occurrences); a deleted
    (cancelled) item is a Delete of its ItemId, or nothing when the client never saw it."""
    shape = item_shape(request)
    target = child_list(request, f"{M}SyncFolderId")
    if len(target) != 1:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: one SyncFolderId.")
    max_changes = _max_changes(request)
    scope = text(request.find(f"{M}SyncScope")) or "NormalItems"
    if scope not in SYNC_SCOPES:
        raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: SyncScope {scope}.")
    token = text(request.find(f"{M}SyncState")).strip()

    def answer(elem: ET.Element) -> str:
        folder = ctx.resolve(elem)
        if folder.role is AccessRole.FREE_BUSY:
            raise access_denied()
        since = read_sync_state(ctx, folder.id, token) if token else SyncPoint(0, 0)
        issued = ctx.state.current_seq()  # before reading: a change racing this request comes again next time
        found = [] if folder.calendar is None else ctx.state.changed_since(folder.id, since.progress)
        changed = [e for e in found if not (e.cancelled and ctx.sync.created_at(e) > since.progress)]
        page = changed[:max_changes]
        last = len(page) == len(changed)
        changes = "".join(_change_xml(e, since.base, shape, ctx.sync) for e in page)
        following = SyncPoint(issued, issued) if last else SyncPoint(since.base, page[-1].seq)
        state = sync_state_token(folder.id, following, issued)
        return (
            f"<m:SyncState>{state}</m:SyncState>"
            f"<m:IncludesLastItemInRange>{str(last).lower()}</m:IncludesLastItemInRange>"
            f"<m:Changes>{changes}</m:Changes>"
        )

    # as Exchange answers a refused sync: an empty SyncState and IncludesLastItemInRange true after the error
    refused = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
    return per_element("SyncFolderItems", target, answer, error_tail=refused)


def _change_xml(event: EmulatedEvent, base: int, shape: ItemShape, sync: SyncBook) -> str:
    if event.cancelled:
        return (
            f"<t:Delete><t:ItemId Id={quoteattr(event.id)} ChangeKey={quoteattr(item_change_key(event))}/></t:Delete>"
        )
    kind = "Create" if base == 0 or sync.created_at(event) > base else "Update"
    return f"<t:{kind}>{item_xml(event, shape)}</t:{kind}>"


DELETE_TYPES = ("HardDelete", "SoftDelete", "MoveToDeletedItems")


def delete_item(ctx: EwsContext, request: ET.Element) -> str:
    """Deletes calendar items by ItemId (a series by its master's id). The item is marked cancelled, never dropped,
    so that SyncFolderItems reports the Delete. A calendar item needs SendMeetingCancellations."""
    if request.get("DeleteType") not in DELETE_TYPES:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: DeleteType.")
    if request.get("SendMeetingCancellations") not in ("SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy"):
        raise MessageError(
            "ErrorSendMeetingCancellationsRequired",
            "SendMeetingCancellations attribute is required for Calendar items.",
        )
    ids = child_list(request, f"{M}ItemIds")

    def answer(elem: ET.Element) -> str:
        item_id = elem.get("Id", "")
        calendar = next((c for c in ctx.state.calendars.values() if item_id in c.events), None)
        if calendar is None or calendar.events[item_id].cancelled:
            raise not_found()
        folder = ctx.folder_by_id(calendar.id)
        if folder.role not in (AccessRole.OWNER, AccessRole.WRITER):
            raise access_denied()
        calendar.events[item_id].cancelled = True
        return ""

    return per_element("DeleteItem", ids, answer)


def create_folder(ctx: EwsContext, request: ET.Element) -> str:
    parent_elem = request.find(f"{M}ParentFolderId")
    folders = child_list(request, f"{M}Folders")

    def answer(elem: ET.Element) -> str:
        if parent_elem is None or not len(parent_elem):
            raise MessageError("ErrorInvalidRequest", "ParentFolderId is required.")
        parent = ctx.resolve(parent_elem[0])
        if parent.id != ctx.account.primary_calendar_id and parent.calendar is not None:
            raise MessageError("ErrorInvalidRequest", "Calendars can only be created under the Calendar folder.")
        folder_class = text(elem.find(f"{T}FolderClass")) or "IPF.Appointment"
        if elem.tag != f"{T}CalendarFolder" and folder_class != "IPF.Appointment":
            raise MessageError("ErrorInvalidRequest", "Only calendar folders can be created here.")
        name = text(elem.find(f"{T}DisplayName"))
        if not name:
            raise MessageError("ErrorInvalidRequest", "DisplayName is required.")
        siblings = ctx.children(ctx.distinguished("calendar", None), deep=False)
        if any(f.name.lower() == name.lower() for f in siblings):
            raise MessageError("ErrorFolderExists", "A folder with the specified name already exists.")
        calendar = ctx.state.add_calendar(ctx.account.email, name)
        return (
            f"<m:Folders><t:CalendarFolder><t:FolderId Id={quoteattr(calendar.id)}"
            f" ChangeKey={quoteattr(change_key(calendar.id))}/></t:CalendarFolder></m:Folders>"
        )

    return per_element("CreateFolder", folders, answer)


def convert_id(ctx: EwsContext, request: ET.Element) -> str:
    sources = child_list(request, f"{M}SourceIds")

    def answer(elem: ET.Element) -> str:
        raise MessageError("ErrorInvalidIdMalformed", "Id is malformed.")

    return per_element("ConvertId", sources, answer)


OPERATIONS: dict[str, Callable[[EwsContext, ET.Element], str]] = {
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "FindItem": find_item,
    "CreateItem": create_item,
    "CreateFolder": create_folder,
    "ConvertId": convert_id,
    "SyncFolderItems": sync_folder_items,
    "DeleteItem": delete_item,
}
