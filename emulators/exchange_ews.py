"""EWS SOAP operations over EmulatorState: just enough of Exchange Web Services for exchangelib.

The wire model: each account has a root folder and its primary calendar (the distinguished "calendar" folder);
its other owned calendars are subfolders of the Calendar folder. Folder ids on the wire are the EmulatorState
calendar ids, so the provider and the state agree on ids.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from emulators.state import AccessRole, EmulatedAccount, EmulatedCalendar, EmulatedEvent, EmulatorState

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"

M = f"{{{M_NS}}}"
T = f"{{{T_NS}}}"

API_VERSIONS = (
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2015_SP1",
    "Exchange2016",
)
"""RequestServerVersion values, oldest first."""
MAX_CALENDAR_VIEW = timedelta(days=2 * 365)


@dataclass(frozen=True)
class ServerVersion:
    """What the server reports in the ServerVersionInfo SOAP header."""

    api_version: str
    major: int
    minor: int
    major_build: int
    minor_build: int

    def accepts(self, requested: str | None) -> bool:
        """A server answers requests for its own schema version or older ones."""
        if requested is None:
            return True
        if requested not in API_VERSIONS:
            return False
        return API_VERSIONS.index(requested) <= API_VERSIONS.index(self.api_version)

    def header(self) -> str:
        return (
            f'<h:ServerVersionInfo xmlns:h="{T_NS}" MajorVersion="{self.major}" MinorVersion="{self.minor}"'
            f' MajorBuildNumber="{self.major_build}" MinorBuildNumber="{self.minor_build}"'
            f' Version="{self.api_version}"/>'
        )


SERVER_VERSIONS: dict[str, ServerVersion] = {
    v.api_version: v
    for v in (
        ServerVersion("Exchange2007", 8, 0, 685, 24),
        ServerVersion("Exchange2007_SP1", 8, 1, 240, 6),
        ServerVersion("Exchange2010", 14, 0, 639, 21),
        ServerVersion("Exchange2010_SP1", 14, 1, 218, 15),
        ServerVersion("Exchange2010_SP2", 14, 2, 247, 5),
        ServerVersion("Exchange2013", 15, 0, 516, 32),
        ServerVersion("Exchange2013_SP1", 15, 0, 847, 32),
        ServerVersion("Exchange2016", 15, 1, 2507, 6),
    )
}


@dataclass
class EwsTraffic:
    """What the emulator was asked, for tests: operation names and every CalendarView window."""

    operations: list[str] = field(default_factory=list)
    calendar_views: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    """(folder id, StartDate, EndDate) of each FindItem CalendarView, per folder."""


class SoapFault(Exception):
    """Answered as a SOAP fault (HTTP 500) instead of a response message."""

    def __init__(self, code: str, message: str, back_off_ms: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.back_off_ms = back_off_ms


class MessageError(Exception):
    """Answered as one response message with ResponseClass="Error"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def not_found() -> MessageError:
    return MessageError("ErrorItemNotFound", "The specified object was not found in the store.")


def access_denied() -> MessageError:
    return MessageError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def change_key(value: str) -> str:
    return "AwAAABYAAAA" + hashlib.sha1(value.encode()).hexdigest()[:12]


def root_id(email: str) -> str:
    return "AQMkADroot" + hashlib.sha1(email.lower().encode()).hexdigest()[:24]


def ews_time(value: datetime) -> str:
    return f"{value.astimezone(UTC).isoformat()[:19]}Z"  # whole seconds, without the "+00:00"


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def child_list(parent: ET.Element, tag: str) -> list[ET.Element]:
    found = parent.find(tag)
    return [] if found is None else list(found)


def text(elem: ET.Element | None) -> str:
    return "" if elem is None or elem.text is None else elem.text


@dataclass(frozen=True)
class WireFolder:
    id: str
    name: str
    parent_id: str | None
    calendar: EmulatedCalendar | None
    role: AccessRole = AccessRole.OWNER


@dataclass
class EwsContext:
    state: EmulatorState
    account: EmulatedAccount
    traffic: EwsTraffic

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
            return self.folder_by_id(owner.primary_calendar_id)
        raise MessageError("ErrorFolderNotFound", f"The distinguished folder {name} was not found.")

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


# rendering ---------------------------------------------------------------------
def folder_xml(folder: WireFolder, child_count: int) -> str:
    ids = f'<t:FolderId Id={quoteattr(folder.id)} ChangeKey={quoteattr(change_key(folder.id))}/>'
    if folder.parent_id:
        ids += f'<t:ParentFolderId Id={quoteattr(folder.parent_id)} ChangeKey={quoteattr(change_key(folder.parent_id))}/>'
    if folder.calendar is None:
        return (
            f"<t:Folder>{ids}<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
            f"<t:TotalCount>0</t:TotalCount><t:ChildFolderCount>{child_count}</t:ChildFolderCount>"
            "<t:UnreadCount>0</t:UnreadCount></t:Folder>"
        )
    writable = folder.role in (AccessRole.OWNER, AccessRole.WRITER)
    owner = folder.role is AccessRole.OWNER
    readable = folder.role is not AccessRole.FREE_BUSY

    def flag(value: bool) -> str:
        return "true" if value else "false"

    rights = (
        f"<t:EffectiveRights><t:CreateAssociated>{flag(owner)}</t:CreateAssociated>"
        f"<t:CreateContents>{flag(writable)}</t:CreateContents><t:CreateHierarchy>{flag(owner)}</t:CreateHierarchy>"
        f"<t:Delete>{flag(writable)}</t:Delete><t:Modify>{flag(writable)}</t:Modify><t:Read>{flag(readable)}</t:Read>"
        f"<t:ViewPrivateItems>{flag(owner)}</t:ViewPrivateItems></t:EffectiveRights>"
    )
    return (
        f"<t:CalendarFolder>{ids}<t:FolderClass>IPF.Appointment</t:FolderClass>"
        f"<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
        f"<t:TotalCount>{len(folder.calendar.events)}</t:TotalCount>"
        f"<t:ChildFolderCount>{child_count}</t:ChildFolderCount>{rights}</t:CalendarFolder>"
    )


ITEM_PROPERTIES: dict[str, Callable[[EmulatedEvent], str]] = {
    "item:Subject": lambda e: f"<t:Subject>{escape(e.summary)}</t:Subject>",
    "calendar:Start": lambda e: f"<t:Start>{ews_time(e.start)}</t:Start>",
    "calendar:End": lambda e: f"<t:End>{ews_time(e.end)}</t:End>",
    "calendar:IsAllDayEvent": lambda e: "<t:IsAllDayEvent>false</t:IsAllDayEvent>",
    "calendar:LegacyFreeBusyStatus": lambda e: (
        f"<t:LegacyFreeBusyStatus>{'Busy' if e.busy else 'Free'}</t:LegacyFreeBusyStatus>"
    ),
    "calendar:IsCancelled": lambda e: f"<t:IsCancelled>{'true' if e.cancelled else 'false'}</t:IsCancelled>",
    "calendar:IsMeeting": lambda e: f"<t:IsMeeting>{'true' if e.attendees else 'false'}</t:IsMeeting>",
    "calendar:CalendarItemType": lambda e: "<t:CalendarItemType>Single</t:CalendarItemType>",
}
"""The calendar item properties the emulator knows, by FieldURI, in schema order (as EWS writes them)."""


def item_shape(request: ET.Element) -> tuple[str, ...]:
    """The FieldURIs a FindItem/GetItem ItemShape asks for: IdOnly answers only the ItemId plus the
    AdditionalProperties; Default and AllProperties answer every property the emulator knows."""
    shape = request.find(f"{M}ItemShape")
    base = text(shape.find(f"{T}BaseShape")) if shape is not None else "Default"
    if base != "IdOnly" or shape is None:
        return tuple(ITEM_PROPERTIES)
    wanted = {uri.get("FieldURI", "") for uri in shape.iterfind(f"{T}AdditionalProperties/{T}FieldURI")}
    return tuple(uri for uri in ITEM_PROPERTIES if uri in wanted)


def item_xml(event: EmulatedEvent, properties: tuple[str, ...] = tuple(ITEM_PROPERTIES)) -> str:
    rendered = "".join([ITEM_PROPERTIES[uri](event) for uri in properties])
    return (
        f'<t:CalendarItem><t:ItemId Id={quoteattr(event.id)} ChangeKey="{change_key(event.id)}"/>'
        f"{rendered}</t:CalendarItem>"
    )


def success(operation: str, inner: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{inner}</m:{operation}ResponseMessage>"
    )


def failure(operation: str, error: MessageError) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(error.message)}</m:MessageText>'
        f"<m:ResponseCode>{error.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{operation}ResponseMessage>"
    )


def response(operation: str, messages: list[str]) -> str:
    return (
        f'<m:{operation}Response xmlns:m="{M_NS}" xmlns:t="{T_NS}"><m:ResponseMessages>'
        f"{''.join(messages)}</m:ResponseMessages></m:{operation}Response>"
    )


def per_element(operation: str, elements: list[ET.Element], answer: Callable[[ET.Element], str]) -> str:
    messages = []
    for elem in elements:
        try:
            messages.append(success(operation, answer(elem)))
        except MessageError as error:
            messages.append(failure(operation, error))
    return response(operation, messages)


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


def find_item(ctx: EwsContext, request: ET.Element) -> str:
    parents = child_list(request, f"{M}ParentFolderIds")
    view = request.find(f"{M}CalendarView")
    properties = item_shape(request)

    def answer(elem: ET.Element) -> str:
        folder = ctx.resolve(elem)
        if folder.calendar is None:
            events: list[EmulatedEvent] = []
        elif folder.role is AccessRole.FREE_BUSY:
            raise access_denied()
        else:
            events = sorted(folder.calendar.events.values(), key=lambda e: e.start)
        if view is not None:
            start, end = parse_time(view.get("StartDate", "")), parse_time(view.get("EndDate", ""))
            if end - start > MAX_CALENDAR_VIEW:
                raise MessageError("ErrorCalendarViewRangeTooBig", "The time window of the CalendarView is too big.")
            ctx.traffic.calendar_views.append((folder.id, start, end))
            # Real EWS also returns items ending exactly at StartDate.
            events = [e for e in events if e.start < end and e.end >= start]
            limit = view.get("MaxEntriesReturned")
            if limit:
                events = events[: int(limit)]
        items = "".join([item_xml(e, properties) for e in events])
        return (
            f'<m:RootFolder TotalItemsInView="{len(events)}" IncludesLastItemInRange="true">'
            f"<t:Items>{items}</t:Items></m:RootFolder>"
        )

    return per_element("FindItem", parents, answer)


def _attendees(item: ET.Element) -> list[str]:
    emails: list[str] = []
    for kind in ("RequiredAttendees", "OptionalAttendees"):
        for attendee in item.findall(f"{T}{kind}/{T}Attendee"):
            email = text(attendee.find(f"{T}Mailbox/{T}EmailAddress"))
            if email:
                emails.append(email)
    return emails


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
        attendees = _attendees(item)
        status = text(item.find(f"{T}LegacyFreeBusyStatus")) or "Busy"
        event = ctx.state.add_event(
            folder.calendar.id,
            parse_time(start),
            parse_time(end),
            text(item.find(f"{T}Subject")),
            attendees=attendees,
            description=text(item.find(f"{T}Body")) or None,
            busy=status != "Free",
            invitations_sent=bool(attendees) and invitations != "SendToNone",
        )
        return (
            f'<m:Items><t:CalendarItem><t:ItemId Id={quoteattr(event.id)}'
            f" ChangeKey={quoteattr(change_key(event.id))}/></t:CalendarItem></m:Items>"
        )

    return per_element("CreateItem", items, answer)


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
            f'<m:Folders><t:CalendarFolder><t:FolderId Id={quoteattr(calendar.id)}'
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
}


def envelope(body: str, version: ServerVersion | None) -> str:
    header = f"<s:Header>{version.header()}</s:Header>" if version is not None else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_NS}">{header}'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )


def fault_xml(fault: SoapFault) -> str:
    back_off = ""
    if fault.back_off_ms is not None:
        back_off = (
            f'<t:MessageXml xmlns:t="{T_NS}"><t:Value Name="BackOffMilliseconds">{fault.back_off_ms}</t:Value>'
            "</t:MessageXml>"
        )
    body = (
        f'<s:Fault><faultcode xmlns:a="{T_NS}">a:{fault.code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(fault.message)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="{E_NS}">{fault.code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{E_NS}">{escape(fault.message)}</e:Message>{back_off}</detail></s:Fault>'
    )
    return envelope(body, None)
