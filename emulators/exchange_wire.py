"""Exchange's wire format: SOAP envelopes and faults, EWS response messages, folder and item XML, versions,
and the SOAP autodiscover answer.

What the Exchange emulator's endpoints (emulators/exchange.py) and EWS operations (emulators/exchange_ews.py)
send and parse, kept apart from what they do.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from emulators.state import AccessRole, EmulatedAccount, EmulatedCalendar, EmulatedEvent
from emulators.windows_zones import WINDOWS_TO_IANA, windows_id

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
XML = "text/xml; charset=utf-8"
A_NS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA_NS = "http://www.w3.org/2005/08/addressing"


@dataclass(frozen=True)
class ServerVersion:
    """A server release: what it reports in the ServerVersionInfo SOAP header and the newest schema it accepts.

    `reported` is the header's Version attribute as real servers write it: the schema name up to Exchange 2013 RTM,
    then internal names that are not valid in a request ("V2_11", "V2017_07_11", "V2018_01_08").
    """

    schema: str
    """The newest RequestServerVersion the server accepts."""
    major: int
    minor: int
    major_build: int
    minor_build: int
    reported: str | None = ""
    """The header's Version: "" for the schema name, None for none (Exchange 2007 sends no Version)."""

    def accepts(self, requested: str | None) -> bool:
        """A server answers requests for its own schema version or older ones."""
        if requested is None:
            return True
        if requested not in API_VERSIONS:
            return False
        return API_VERSIONS.index(requested) <= API_VERSIONS.index(self.schema)

    def header(self) -> str:
        version = "" if self.reported is None else f' Version="{self.reported or self.schema}"'
        return (
            f'<h:ServerVersionInfo xmlns:h="{T_NS}" MajorVersion="{self.major}" MinorVersion="{self.minor}"'
            f' MajorBuildNumber="{self.major_build}" MinorBuildNumber="{self.minor_build}"{version}/>'
        )


SERVER_VERSIONS: dict[str, ServerVersion] = {
    "Exchange2007": ServerVersion("Exchange2007", 8, 0, 685, 24, None),
    "Exchange2007_SP1": ServerVersion("Exchange2007_SP1", 8, 1, 240, 6, None),
    "Exchange2010": ServerVersion("Exchange2010", 14, 0, 639, 21),
    "Exchange2010_SP1": ServerVersion("Exchange2010_SP1", 14, 1, 218, 15),
    "Exchange2010_SP2": ServerVersion("Exchange2010_SP2", 14, 2, 247, 5),
    "Exchange2010_SP3": ServerVersion("Exchange2010_SP2", 14, 3, 158, 1),
    "Exchange2013": ServerVersion("Exchange2013", 15, 0, 516, 32),
    "Exchange2013_SP1": ServerVersion("Exchange2013_SP1", 15, 0, 939, 16, "V2_11"),
    "Exchange2016": ServerVersion("Exchange2016", 15, 1, 2507, 6, "V2017_07_11"),
    "Exchange2019": ServerVersion("Exchange2016", 15, 2, 2562, 17, "V2017_07_11"),
    "ExchangeOnline": ServerVersion("Exchange2016", 15, 20, 8769, 35, "V2018_01_08"),
}
"""Server releases by name, with the ServerVersionInfo real servers send: 2007 no Version; 2010 SP3 still reports the
Exchange2010_SP2 schema; 2013 after SP1 (15.0.847), 2016 (15.1), 2019 (15.2) and Exchange Online (15.20) report
internal version names; 2016 and later accept requests up to the Exchange2016 schema."""


class SoapFault(Exception):
    """Answered as a SOAP fault (HTTP 500) instead of a response message."""

    def __init__(self, code: str, message: str, back_off_ms: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.back_off_ms = back_off_ms


class MessageError(Exception):
    """Answered as one response message with ResponseClass="Error"; `values`: its MessageXml t:Value elements."""

    def __init__(self, code: str, message: str, values: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.values = values or {}


def not_found() -> MessageError:
    return MessageError("ErrorItemNotFound", "The specified object was not found in the store.")


def access_denied() -> MessageError:
    return MessageError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def change_key(value: str) -> str:
    return "AwAAABYAAAA" + hashlib.sha1(value.encode()).hexdigest()[:12]


def item_change_key(event: EmulatedEvent) -> str:
    """An item's ChangeKey: a new one after every change to it (EWS's version of the item)."""
    return change_key(f"{event.id}:{event.seq}")


def root_id(email: str) -> str:
    return "AQMkADroot" + hashlib.sha1(email.lower().encode()).hexdigest()[:24]


def ews_time(value: datetime) -> str:
    return f"{value.astimezone(UTC).isoformat()[:19]}Z"  # whole seconds, without the "+00:00"


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def invalid_time_zone() -> MessageError:
    return MessageError("ErrorTimeZone", "The specified time zone isn't valid.")


def item_time_zone(item: ET.Element) -> str:
    """The zone a CalendarItem is written in, as the IANA key the emulator keeps: StartTimeZone's Windows id
    (Exchange 2010 on; EndTimeZone must be one Windows knows too), or MeetingTimeZone's (2007); UTC without one.
    An id Windows does not have is refused (ErrorTimeZone)."""
    zones = [item.find(f"{T}{tag}") for tag in ("StartTimeZone", "EndTimeZone", "MeetingTimeZone")]
    keys = [_zone_key(elem) for elem in zones if elem is not None]
    return keys[0] if keys else "UTC"


def _zone_key(elem: ET.Element) -> str:
    windows = elem.get("Id") or elem.get("TimeZoneName") or ""
    key = WINDOWS_TO_IANA.get(windows)
    if key is None:
        raise invalid_time_zone()
    return key


def zone_xml(tag: str, event: EmulatedEvent) -> str:
    """StartTimeZone/EndTimeZone as EWS answers them: the Windows id of the zone the item was written in."""
    return f"<t:{tag} Id={quoteattr(windows_id(event.timezone) or 'UTC')}/>"


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


# rendering ---------------------------------------------------------------------
def folder_xml(folder: WireFolder, child_count: int) -> str:
    ids = f"<t:FolderId Id={quoteattr(folder.id)} ChangeKey={quoteattr(change_key(folder.id))}/>"
    if folder.parent_id:
        ids += (
            f"<t:ParentFolderId Id={quoteattr(folder.parent_id)} ChangeKey={quoteattr(change_key(folder.parent_id))}/>"
        )
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


def calendar_item_type(event: EmulatedEvent) -> str:
    """Single, a series' RecurringMaster (outside a CalendarView) or one Occurrence of it (in a CalendarView)."""
    if event.occurrence_of is not None:
        return "Occurrence"
    return "Single" if event.recurrence is None else "RecurringMaster"


ITEM_PROPERTIES: dict[str, Callable[[EmulatedEvent], str]] = {
    "item:Subject": lambda e: f"<t:Subject>{escape(e.summary)}</t:Subject>",
    "calendar:Start": lambda e: f"<t:Start>{ews_time(e.start)}</t:Start>",
    "calendar:End": lambda e: f"<t:End>{ews_time(e.end)}</t:End>",
    "calendar:IsAllDayEvent": lambda e: f"<t:IsAllDayEvent>{'true' if e.all_day else 'false'}</t:IsAllDayEvent>",
    "calendar:LegacyFreeBusyStatus": lambda e: (
        f"<t:LegacyFreeBusyStatus>{e.legacy_free_busy_status}</t:LegacyFreeBusyStatus>"
    ),
    "calendar:IsCancelled": lambda e: f"<t:IsCancelled>{'true' if e.cancelled else 'false'}</t:IsCancelled>",
    "calendar:IsMeeting": lambda e: f"<t:IsMeeting>{'true' if e.attendees else 'false'}</t:IsMeeting>",
    "calendar:IsRecurring": lambda e: f"<t:IsRecurring>{'true' if e.occurrence_of else 'false'}</t:IsRecurring>",
    "calendar:CalendarItemType": lambda e: f"<t:CalendarItemType>{calendar_item_type(e)}</t:CalendarItemType>",
    "calendar:StartTimeZone": lambda e: zone_xml("StartTimeZone", e),
    "calendar:EndTimeZone": lambda e: zone_xml("EndTimeZone", e),
    "calendar:IsOrganizer": lambda e: f"<t:IsOrganizer>{'true' if e.organizer is None else 'false'}</t:IsOrganizer>",
}
"""The calendar item properties the emulator knows, by FieldURI, in schema order (as EWS writes them).
IsOrganizer (Exchange 2013 on) tells whether the calendar's owner organises the item (EmulatedEvent.organizer None)."""
ASKED_ONLY = frozenset({"calendar:IsOrganizer"})
"""Properties answered only when the shape names them (newer than the Default shape of every release)."""


@dataclass(frozen=True)
class ItemShape:
    """What an ItemShape asks for: properties by FieldURI (in schema order) and extended properties, each as
    (extended_property_key, the t:ExtendedFieldURI as asked, to echo in the answer)."""

    properties: tuple[str, ...]
    extended: tuple[tuple[str, str], ...] = ()


def item_shape(request: ET.Element) -> ItemShape:
    """The properties a FindItem/GetItem/SyncFolderItems ItemShape asks for: IdOnly answers only the ItemId plus
    the AdditionalProperties; Default and AllProperties answer every property the emulator knows (but those in
    ASKED_ONLY) plus the AdditionalProperties. Extended properties are answered on the items that have them."""
    shape = request.find(f"{M}ItemShape")
    base = text(shape.find(f"{T}BaseShape")) if shape is not None else "Default"
    if base not in ("IdOnly", "Default", "AllProperties"):
        raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: BaseShape {base}.")
    wanted: set[str] = set()
    extended: list[tuple[str, str]] = []
    if shape is not None:
        wanted = {uri.get("FieldURI", "") for uri in shape.iterfind(f"{T}AdditionalProperties/{T}FieldURI")}
        for uri in shape.iterfind(f"{T}AdditionalProperties/{T}ExtendedFieldURI"):
            attributes = "".join(f" {name}={quoteattr(value)}" for name, value in uri.attrib.items())
            extended.append((extended_property_key(uri), f"<t:ExtendedFieldURI{attributes}/>"))
    if base != "IdOnly":
        wanted |= set(ITEM_PROPERTIES) - ASKED_ONLY
    return ItemShape(tuple(uri for uri in ITEM_PROPERTIES if uri in wanted), tuple(extended))


DEFAULT_SHAPE = ItemShape(tuple(uri for uri in ITEM_PROPERTIES if uri not in ASKED_ONLY))


def item_xml(event: EmulatedEvent, shape: ItemShape = DEFAULT_SHAPE) -> str:
    """A t:CalendarItem with the shape's properties in schema order: extended properties come after Subject."""
    properties = shape.properties
    head = properties[:1] if properties[:1] == ("item:Subject",) else ()
    extended = "".join(
        f"<t:ExtendedProperty>{uri}<t:Value>{escape(event.properties[key])}</t:Value></t:ExtendedProperty>"
        for key, uri in shape.extended
        if key in event.properties
    )
    rendered = "".join([ITEM_PROPERTIES[uri](event) for uri in head])
    rendered += extended + "".join([ITEM_PROPERTIES[uri](event) for uri in properties[len(head) :]])
    return (
        f'<t:CalendarItem><t:ItemId Id={quoteattr(event.id)} ChangeKey="{item_change_key(event)}"/>'
        f"{rendered}</t:CalendarItem>"
    )


def success(operation: str, inner: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{inner}</m:{operation}ResponseMessage>"
    )


def failure(operation: str, error: MessageError, tail: str = "") -> str:
    """An error response message; `tail`: what the operation's message type adds after the common elements."""
    values = "".join(f"<t:Value Name={quoteattr(k)}>{escape(v)}</t:Value>" for k, v in error.values.items())
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(error.message)}</m:MessageText>'
        f"<m:ResponseCode>{error.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        + (f"<m:MessageXml>{values}</m:MessageXml>" if values else "")
        + f"{tail}</m:{operation}ResponseMessage>"
    )


def response(operation: str, messages: list[str]) -> str:
    return (
        f'<m:{operation}Response xmlns:m="{M_NS}" xmlns:t="{T_NS}"><m:ResponseMessages>'
        f"{''.join(messages)}</m:ResponseMessages></m:{operation}Response>"
    )


def per_element(
    operation: str, elements: list[ET.Element], answer: Callable[[ET.Element], str], *, error_tail: str = ""
) -> str:
    """One response message per element: its answer, or its error (with `error_tail`, see `failure`)."""
    messages = []
    for elem in elements:
        try:
            messages.append(success(operation, answer(elem)))
        except MessageError as error:
            messages.append(failure(operation, error, error_tail))
    return response(operation, messages)


EXTENDED_FIELD_ATTRIBUTES = ("DistinguishedPropertySetId", "PropertySetId", "PropertyTag", "PropertyName", "PropertyId")


def _normal(attribute: str, value: str) -> str:
    """GUIDs compare case-insensitively; names, ids and tags as written."""
    return value.lower() if attribute == "PropertySetId" else value


def extended_property_key(uri: ET.Element) -> str:
    """The identity of the MAPI property a t:ExtendedFieldURI names (its set and name, id or tag; not its type)."""
    parts = [f"{name}={_normal(name, uri.get(name, ''))}" for name in EXTENDED_FIELD_ATTRIBUTES if uri.get(name)]
    if not parts:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: empty ExtendedFieldURI.")
    return ";".join(parts)


def parse_extended_properties(item: ET.Element) -> dict[str, str]:
    """An item's t:ExtendedProperty elements (single-valued) by extended_property_key."""
    found: dict[str, str] = {}
    for prop in item.findall(f"{T}ExtendedProperty"):
        uri = prop.find(f"{T}ExtendedFieldURI")
        if uri is None:
            raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: no ExtendedFieldURI.")
        found[extended_property_key(uri)] = text(prop.find(f"{T}Value"))
    return found


def parse_attendees(item: ET.Element) -> list[str]:
    emails: list[str] = []
    for kind in ("RequiredAttendees", "OptionalAttendees"):
        for attendee in item.findall(f"{T}{kind}/{T}Attendee"):
            email = text(attendee.find(f"{T}Mailbox/{T}EmailAddress"))
            if email:
                emails.append(email)
    return emails


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


# SOAP requests and autodiscover ---------------------------------------------------------
def parse_envelope(raw: bytes) -> tuple[ET.Element | None, ET.Element]:
    """(SOAP header or None, first element of the SOAP body); raises SoapFault on malformed requests."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: {exc}") from exc
    body = root.find(f"{{{SOAP_NS}}}Body")
    if body is None or not len(body):
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: no SOAP body.")
    return root.find(f"{{{SOAP_NS}}}Header"), body[0]


def requested_version(header: ET.Element | None) -> str | None:
    if header is None:
        return None
    elem = header.find(f"{{{T_NS}}}RequestServerVersion")
    return None if elem is None else elem.get("Version")


def autodiscover_user_response(
    email: str, account: EmulatedAccount | None, ews_url: str, version: ServerVersion
) -> str:
    if account is None:
        return (
            "<UserResponse><ErrorCode>InvalidUser</ErrorCode>"
            f"<ErrorMessage>Invalid user: '{escape(email)}'</ErrorMessage>"
            "<RedirectTarget/><UserSettingErrors/><UserSettings/></UserResponse>"
        )
    settings = {
        "AutoDiscoverSMTPAddress": account.email,
        "UserDisplayName": account.name,
        "ExternalEwsUrl": ews_url,
        "InternalEwsUrl": ews_url,
        "EwsSupportedSchemas": ", ".join(API_VERSIONS[: API_VERSIONS.index(version.schema) + 1]),
    }
    rendered = "".join(
        f'<UserSetting i:type="StringSetting"><Name>{name}</Name><Value>{escape(value)}</Value></UserSetting>'
        for name, value in settings.items()
    )
    return (
        "<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage>"
        f'<RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings>{rendered}</UserSettings></UserResponse>'
    )


def autodiscover_response(user_responses: str, version: ServerVersion) -> str:
    """The SOAP autodiscover GetUserSettings answer around the rendered UserResponse elements."""
    body = (
        f'<GetUserSettingsResponseMessage xmlns="{A_NS}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        "<Response><ErrorCode>NoError</ErrorCode><ErrorMessage/>"
        f"<UserResponses>{user_responses}</UserResponses></Response></GetUserSettingsResponseMessage>"
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_NS}" xmlns:a="{WSA_NS}">'
        '<s:Header><a:Action s:mustUnderstand="1">'
        "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse</a:Action>"
        f'<h:ServerVersionInfo xmlns:h="{A_NS}"><h:MajorVersion>{version.major}</h:MajorVersion>'
        f"<h:MinorVersion>{version.minor}</h:MinorVersion><h:MajorBuildNumber>{version.major_build}"
        f"</h:MajorBuildNumber><h:MinorBuildNumber>{version.minor_build}</h:MinorBuildNumber>"
        f"<h:Version>{version.schema}</h:Version></h:ServerVersionInfo></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
