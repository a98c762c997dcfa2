"""Exchange (EWS, through exchangelib) calendar provider.

exchangelib is synchronous: every call runs in a worker thread (asyncio.to_thread). exchangelib itself fails
fast (its FailFast policy, bounded HTTP timeouts): it never sends a request twice (its FaultTolerance policy would
re-send a timed-out CreateItem after a back-off). Retries and back-off are ours, driven by the RetryPolicy and its
injected `sleep`, and a create is only retried in a way that cannot duplicate it (see create_event).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import ClassVar, NamedTuple, TypeVar

import requests
from exchangelib import DELEGATE, Account, Configuration, Credentials
from exchangelib.autodiscover import Autodiscovery
from exchangelib.autodiscover.protocol import AutodiscoverProtocol
from exchangelib.errors import (
    AutoDiscoverError,
    ErrorAccessDenied,
    ErrorFolderExists,
    ErrorFolderNotFound,
    ErrorInternalServerError,
    ErrorInternalServerTransientError,
    ErrorInvalidServerVersion,
    ErrorItemNotFound,
    ErrorNonExistentMailbox,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    EWSError,
    MalformedResponseError,
    SOAPError,
    TransportError,
    UnauthorizedError,
    UnknownTimeZone,
)
from exchangelib.ewsdatetime import UTC, EWSDateTime, EWSTimeZone
from exchangelib.extended_properties import ExtendedProperty
from exchangelib.fields import FieldPath
from exchangelib.folders import Calendar, FolderCollection
from exchangelib.folders.queryset import DEEP, SHALLOW
from exchangelib.items import ID_ONLY, SEND_TO_ALL_AND_SAVE_COPY, CalendarItem
from exchangelib.properties import Attendee as EwsAttendee
from exchangelib.properties import Body, CalendarView, FolderId, Mailbox
from exchangelib.protocol import BaseProtocol, FailFast, Protocol
from exchangelib.services import FindItem
from exchangelib.util import SOAPNS, TNS, ParseError, to_xml
from exchangelib.version import EXCHANGE_2010_SP2

from providers.base import (
    BusyByCalendar,
    CalendarAccessLost,
    CalendarProvider,
    EventDraft,
    ProviderAuthError,
    ProviderCalendar,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
    ProviderVersionError,
    UnsupportedOperation,
)
from providers.guarded_http import CheckedHTTPAdapter, checked_session, using
from providers.http import RetryPolicy
from providers.intervals import time_windows
from providers.outbound import OutboundPolicy
from scheduling.calendars import EXCHANGE_CAPABILITIES, AccessRole, Capabilities
from scheduling.slots import BusyInterval

log = logging.getLogger(__name__)

T = TypeVar("T")

APP_PASSWORD_HINT = (
    "Exchange refused the login. Check the email, username and password; accounts with two-factor "
    "authentication need an app password instead of the normal password."
)
MAX_VIEW_SPAN = timedelta(days=42)
"""Longest CalendarView window we ask for (EWS rejects or truncates very long views)."""
HTTP_TIMEOUT_SECONDS = 30
MAX_CONNECTIONS = 4
CACHED_ACCOUNTS = 256
"""Most opened mailboxes an ExchangeAccounts cache keeps (least recently used ones are closed)."""
BUSY_FIELDS = ("start", "end", "legacy_free_busy_status", "is_cancelled")
LOST_FOLDER_ERRORS = (ErrorItemNotFound, ErrorFolderNotFound, ErrorAccessDenied)
CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)
KEY_FIELD = "meetgraph_key"
UNREACHABLE_MESSAGE = "no Exchange server (EWS) answered at this address; check the EWS URL"
"""The one answer to every failure to reach an EWS endpoint (refused by policy, closed port, not EWS, timeout, DNS):
telling them apart would let any user map the server's network."""


class MeetgraphKey(ExtendedProperty):  # type: ignore[misc]
    """The idempotency key stamped on every calendar item meetgraph creates with one: a named string property in
    meetgraph's own property set (a MAPI named property, written and searched as an EWS ExtendedFieldURI)."""

    property_set_id = "6b0f8f5e-2c1d-4a57-9d0e-8e4f6a1c3b27"
    property_name = "MeetgraphIdempotencyKey"
    property_type = "String"


if KEY_FIELD not in {f.name for f in CalendarItem.FIELDS}:
    CalendarItem.register(KEY_FIELD, MeetgraphKey)


def _install_checked_transport() -> None:
    """Every session exchangelib opens (EWS, autodiscover, auth probes, for any URL it is redirected to) checks each
    connection against the context's OutboundPolicy (providers/guarded_http.py). exchangelib mounts its adapter on
    the endpoint's URL only; the checked one is also mounted on http:// and https:// so no URL escapes it."""
    if BaseProtocol.HTTP_ADAPTER_CLS is CheckedHTTPAdapter:
        return
    raw_session = BaseProtocol.raw_session.__func__

    def checked_raw_session(cls: type[BaseProtocol], prefix: str, *args: object, **kwargs: object) -> requests.Session:
        return checked_session(raw_session(cls, prefix, *args, **kwargs), cls.get_adapter())

    BaseProtocol.HTTP_ADAPTER_CLS = CheckedHTTPAdapter
    BaseProtocol.raw_session = classmethod(checked_raw_session)


_install_checked_transport()


@dataclass(frozen=True)
class ExchangeCredentials:
    """What the user typed (ews_url filled in once resolved). Encrypted at rest by the caller."""

    email: str
    password: str = field(repr=False)
    username: str | None = None
    ews_url: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"email": self.email, "password": self.password, "username": self.username, "ews_url": self.ews_url}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ExchangeCredentials:
        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value is not None else None

        email, password = text("email"), text("password")
        if not email or password is None:
            raise ValueError("Exchange credentials need an email and a password")
        return cls(email=email, password=password, username=text("username"), ews_url=text("ews_url"))

    def ews_credentials(self) -> Credentials:
        return Credentials(username=self.username or self.email, password=self.password)


# errors -------------------------------------------------------------------------------------
class _Transient(Exception):
    """A failure worth retrying; `error` is what surfaces when the retries run out. `refused` is True when the
    server turned the request away unprocessed (throttling), False when it may have acted on it (timeouts,
    dropped connections, 5xx): such a request is only sent again when that is idempotent."""

    def __init__(self, error: ProviderError, retry_after: float | None = None, *, refused: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after
        self.refused = refused


class _HttpRefusal(TransportError):
    """An HTTP-level refusal (429, 5xx without a SOAP body), with the server's Retry-After hint."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class _FailFastWithHints(FailFast):
    """exchangelib's FailFast, but keeping the status code and Retry-After of throttling and outages."""

    def raise_response_errors(self, response: requests.Response) -> None:
        status = response.status_code
        is_soap = response.content.lstrip().startswith(b"<")
        if status == 429 or status == 503 or (status >= 500 and not is_soap):
            raise _HttpRefusal(status, _retry_after(response))
        super().raise_response_errors(response)  # type: ignore[no-untyped-call]


def _retry_after(response: requests.Response) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return max(0.0, value)


class _FolderLost(Exception):
    def __init__(self, folder_id: str) -> None:
        super().__init__(folder_id)
        self.folder_id = folder_id


def _translate(exc: Exception) -> Exception:
    """An exchangelib / transport failure as a ProviderError or a _Transient to retry."""
    if isinstance(exc, (ProviderError, _Transient, _FolderLost)):
        return exc
    if isinstance(exc, UnauthorizedError):
        return ProviderAuthError(APP_PASSWORD_HINT)
    if isinstance(exc, _HttpRefusal):
        if exc.status == 429:
            throttled = ProviderRateLimited("Exchange is throttling requests", exc.retry_after)
            return _Transient(throttled, exc.retry_after, refused=True)
        return _Transient(ProviderUnavailable(f"Exchange answered HTTP {exc.status}"), exc.retry_after)
    if isinstance(exc, ErrorServerBusy):
        hint = float(exc.back_off) if exc.back_off else None
        if str(exc).startswith("Reraised from"):
            return _Transient(ProviderUnavailable("Exchange is unavailable"), hint)
        return _Transient(ProviderRateLimited("Exchange server is busy", hint), hint, refused=True)
    if isinstance(exc, (ErrorInternalServerError, ErrorInternalServerTransientError, ErrorTimeoutExpired)):
        return _Transient(ProviderUnavailable(f"Exchange server error: {type(exc).__name__}"))
    if isinstance(exc, CONNECTION_ERRORS) or (
        isinstance(exc, TransportError) and isinstance(exc.__cause__, CONNECTION_ERRORS)
    ):
        return _Transient(ProviderUnavailable("Exchange server unreachable"))
    if isinstance(exc, ErrorInvalidServerVersion):
        return ProviderVersionError("Exchange 2010 SP2 or later is required")
    if isinstance(exc, EWSError):
        return ProviderRequestError(f"Exchange refused the request: {type(exc).__name__}: {exc}")
    return exc


def _translated(fn: Callable[[], T], outbound: OutboundPolicy) -> Callable[[], T]:
    def call() -> T:
        try:
            with using(outbound):
                return fn()
        except Exception as exc:
            translated = _translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    return call


async def _with_retry(
    policy: RetryPolicy, fn: Callable[[], T], outbound: OutboundPolicy, *, idempotent: bool = True
) -> T:
    """Run blocking `fn` in a worker thread, its connections checked against `outbound`, retrying transient failures
    per `policy`. When `fn` is not idempotent (a create without a key), only failures the server refused unprocessed
    are retried."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await asyncio.to_thread(_translated(fn, outbound))
        except _Transient as transient:
            if not idempotent and not transient.refused:
                raise transient.error from transient
            delay = transient.retry_after if transient.retry_after is not None else policy.backoff(attempt)
            if attempt >= policy.attempts or time.monotonic() - started + delay > policy.total_seconds:
                raise transient.error from transient
            await policy.sleep(delay)


# exchangelib plumbing ------------------------------------------------------------------------
def _ews_time(value: datetime) -> EWSDateTime:
    return EWSDateTime.from_datetime(value.astimezone(timezone.utc)).astimezone(UTC)


def _event_zone(name: str) -> EWSTimeZone:
    try:
        return EWSTimeZone(name)
    except (UnknownTimeZone, KeyError, ValueError):
        return UTC


def _open_account(credentials: ExchangeCredentials) -> Account:
    if not credentials.ews_url:
        raise ValueError("the EWS URL must be resolved before opening the account")
    config = Configuration(
        service_endpoint=credentials.ews_url,
        credentials=credentials.ews_credentials(),
        retry_policy=_FailFastWithHints(),
        max_connections=MAX_CONNECTIONS,
    )
    account = Account(
        primary_smtp_address=credentials.email,
        config=config,
        autodiscover=False,
        access_type=DELEGATE,
        default_timezone=UTC,
    )
    # Instance attributes on the (cached) protocol: bounded HTTP timeouts and no invented back-off hints.
    account.protocol.TIMEOUT = HTTP_TIMEOUT_SECONDS
    account.protocol.RETRY_WAIT = 0
    return account


def _close_protocol(protocol: Protocol) -> None:
    """Close the protocol's pooled sessions and drop it from exchangelib's own protocol cache."""
    protocol.close()
    with suppress(KeyError):
        del Protocol[protocol.config]


class ExchangeAccounts:
    """Opened exchangelib Accounts shared by every request of the process, keyed by EWS URL + credentials.

    Opening an Account per request repeats, before each real call, the auth-type probe, the server version guess
    (ConvertId) and the well-known folder lookups (GetFolder), each a sequential round trip; kept here (by the app
    wiring, Services) they are paid once per mailbox. Thread-safe: accounts are used from worker threads.
    """

    def __init__(self, max_size: int = CACHED_ACCOUNTS) -> None:
        self._max_size = max_size
        self._accounts: OrderedDict[str, Account] = OrderedDict()
        self._lock = threading.Lock()
        self._create_locks: dict[str, threading.Lock] = {}

    @staticmethod
    def fingerprint(credentials: ExchangeCredentials) -> str:
        """The cache key: a digest (not the password itself) of the endpoint, mailbox and login."""
        parts = (credentials.ews_url or "", credentials.email.lower(), credentials.username or "", credentials.password)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def __len__(self) -> int:
        return len(self._accounts)

    def get(self, credentials: ExchangeCredentials) -> Account:
        """The cached account for `credentials`, opened (lazily: no request is sent yet) when missing."""
        key = self.fingerprint(credentials)
        with self._lock:
            account = self._accounts.get(key)
            if account is not None:
                self._accounts.move_to_end(key)
                return account
            account = _open_account(credentials)
            self._accounts[key] = account
            dropped = [self._accounts.popitem(last=False)[1] for _ in range(len(self._accounts) - self._max_size)]
            closing = self._unused_protocols(dropped)
        for protocol in closing:
            _close_protocol(protocol)
        return account

    def create_lock(self, credentials: ExchangeCredentials) -> threading.Lock:
        """The lock that serializes this process's keyed creates in one mailbox (lookup, then CreateItem)."""
        with self._lock:
            return self._create_locks.setdefault(self.fingerprint(credentials), threading.Lock())

    def discard(self, credentials: ExchangeCredentials, account: Account) -> None:
        """Forget `account` (e.g. after the server refused the login), if it is still the cached one."""
        key = self.fingerprint(credentials)
        with self._lock:
            if self._accounts.get(key) is not account:
                return
            del self._accounts[key]
            closing = self._unused_protocols([account])
        for protocol in closing:
            _close_protocol(protocol)

    def close(self) -> None:
        """Close every cached account's sessions (at shutdown)."""
        with self._lock:
            accounts = list(self._accounts.values())
            self._accounts.clear()
            closing = self._unused_protocols(accounts)
        for protocol in closing:
            _close_protocol(protocol)

    def _unused_protocols(self, removed: list[Account]) -> list[Protocol]:
        """Protocols of `removed` accounts that no cached account still uses (exchangelib shares one protocol
        between accounts with the same endpoint and login)."""
        in_use = {id(account.protocol) for account in self._accounts.values()}
        unused: dict[int, Protocol] = {}
        for account in removed:
            if id(account.protocol) not in in_use:
                unused[id(account.protocol)] = account.protocol
        return list(unused.values())


class _ViewItem(NamedTuple):
    """What busy time needs of one CalendarView item."""

    id: str
    start: datetime
    end: datetime
    free: bool
    cancelled: bool


def _parse_ews_time(value: str) -> datetime:
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


class _BusyFindItem(FindItem):  # type: ignore[misc]
    """exchangelib's FindItem for a CalendarView, reading only the busy-time properties of each item.

    The request, version negotiation, paging and per-folder errors stay exchangelib's. What changes is the parse:
    exchangelib builds a full CalendarItem per row (every field of the model looked up in the XML) and hands the
    already downloaded body to lxml one byte at a time (`response.iter_content()`), seconds of CPU for a few
    thousand items; here the body is parsed in one go and each row read with four lookups.
    """

    @classmethod
    def _get_soap_parts(cls, response: requests.Response) -> tuple[object, object]:
        try:
            root = to_xml(response.content)
        except ParseError as exc:
            raise SOAPError(f"Bad SOAP response: {exc}") from exc
        header = root.find(f"{{{SOAPNS}}}Header")
        body = root.find(f"{{{SOAPNS}}}Body")
        if body is None:
            raise MalformedResponseError("No Body element in SOAP response")
        return header, body

    def _elem_to_obj(self, elem: object) -> _ViewItem:
        item_id = start = end = free_busy = cancelled = None
        for child in elem:  # type: ignore[attr-defined]
            tag = child.tag
            if tag == _START:
                start = child.text
            elif tag == _END:
                end = child.text
            elif tag == _ITEM_ID:
                item_id = child.get("Id")
            elif tag == _FREE_BUSY:
                free_busy = child.text
            elif tag == _CANCELLED:
                cancelled = child.text
        if not item_id or not start or not end:
            raise MalformedResponseError("A CalendarView item without ItemId, Start or End")
        return _ViewItem(
            id=item_id,
            start=_parse_ews_time(start),
            end=_parse_ews_time(end),
            free=free_busy == "Free",
            cancelled=(cancelled or "").strip() in ("true", "1"),
        )


def _calendar_view(
    account: Account, calendar_id: str, start: datetime, end: datetime
) -> Iterator[_ViewItem | Exception]:
    """The items of one folder's CalendarView [start, end) (one FindItem request), or the folder's error."""
    service = _BusyFindItem(account=account)
    view = CalendarView(start=_ews_time(start), end=_ews_time(end))
    fields = [FieldPath(field=CalendarItem.get_field_by_fieldname(name)) for name in BUSY_FIELDS]
    return service.call(  # type: ignore[no-any-return]
        folders=[FolderId(id=calendar_id)],
        additional_fields=fields,
        restriction=None,
        order_fields=None,
        shape=ID_ONLY,
        query_string=None,
        depth=SHALLOW,
        calendar_view=view,
        max_items=None,
        offset=0,
    )


class _NotDiscovered(ProviderRequestError):
    """Autodiscover answered, without an EWS URL for the account."""


def _autodiscover(credentials: ExchangeCredentials, autodiscover_url: str | None) -> str:
    """The EWS URL for the account: SOAP autodiscover at `autodiscover_url`, else exchangelib's DNS-based steps."""
    try:
        if autodiscover_url:
            protocol = AutodiscoverProtocol(
                config=Configuration(
                    service_endpoint=autodiscover_url,
                    credentials=credentials.ews_credentials(),
                    retry_policy=_FailFastWithHints(),
                )
            )
            protocol.TIMEOUT = HTTP_TIMEOUT_SECONDS
            try:
                response = protocol.get_user_settings(
                    user=credentials.email,
                    settings=["external_ews_url", "internal_ews_url", "auto_discover_smtp_address"],
                )
            finally:
                protocol.close()
            response.raise_errors()
            url = response.ews_url or response.user_settings.get("internal_ews_url")
        else:
            ad_response, _ = Autodiscovery(
                email=credentials.email, credentials=credentials.ews_credentials()
            ).discover()
            url = ad_response.ews_url
    except (AutoDiscoverError, ErrorNonExistentMailbox) as exc:
        raise _NotDiscovered(
            f"Autodiscover could not find the Exchange server for {credentials.email}; enter the EWS URL"
        ) from exc
    if not url:
        raise _NotDiscovered(f"Autodiscover returned no EWS URL for {credentials.email}; enter the EWS URL")
    return str(url)


def _check_version(account: Account) -> None:
    version = account.protocol.version
    if version.build is None or version.build < EXCHANGE_2010_SP2:
        raise ProviderVersionError(
            f"Exchange 2010 SP2 or later is required; this server runs {version.fullname} ({version.build})"
        )


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
                    self._account = _open_account(self._credentials)
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
            return await _with_retry(self._retry, fn, self._outbound, idempotent=idempotent)
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
            if isinstance(result, _FolderLost):
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
            for item in _calendar_view(self._ews(), calendar_id, start, end):
                if isinstance(item, LOST_FOLDER_ERRORS):
                    raise _FolderLost(calendar_id)
                if isinstance(item, Exception):
                    raise item
                if item.free or item.cancelled:
                    continue
                if item.end <= start or item.start >= end:
                    continue  # EWS also returns items that end exactly at the view's start
                busy[item.id] = BusyInterval(item.start, item.end)
            return busy
        except LOST_FOLDER_ERRORS as exc:
            raise _FolderLost(calendar_id) from exc

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
        zone = _event_zone(draft.timezone)
        item = CalendarItem(
            account=self._ews(),
            folder=folder,
            subject=draft.summary,
            body=Body(draft.description) if draft.description else None,
            start=_ews_time(draft.start).astimezone(zone),
            end=_ews_time(draft.end).astimezone(zone),
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
        await asyncio.to_thread(_close_protocol, account.protocol)


async def connect_exchange(
    credentials: ExchangeCredentials,
    *,
    autodiscover_url: str | None = None,
    retry: RetryPolicy | None = None,
    outbound: OutboundPolicy | None = None,
) -> tuple[ExchangeCalendarProvider, ExchangeCredentials]:
    """Validate the credentials against the server before anything is saved.

    Resolves the EWS URL (autodiscover when missing), logs in, requires Exchange 2010 SP2 or later and reads the
    Calendar folder. Returns the provider and the credentials with the resolved EWS URL. Every connection (the EWS
    URL, autodiscover's answer, redirects) is checked against `outbound` (public https only by default). A refused
    login and a too old server have their own errors; any other failure to talk EWS there is one ProviderUnavailable
    with UNREACHABLE_MESSAGE, whatever it was (refused address, closed port, another service, timeout, DNS).
    """
    policy = retry or RetryPolicy()
    guard = outbound or OutboundPolicy()
    resolved = credentials
    if not credentials.ews_url:
        url = await _reached(_with_retry(policy, lambda: _autodiscover(credentials, autodiscover_url), guard))
        resolved = replace(credentials, ews_url=url)
    provider = ExchangeCalendarProvider(resolved, retry=policy, outbound=guard)

    def validate() -> None:
        account = provider._ews()
        _check_version(account)
        _ = account.calendar  # GetFolder: the Calendar folder must be readable

    try:
        await _reached(_with_retry(policy, validate, guard))
    except BaseException:
        await provider.aclose()
        raise
    log.info("connected Exchange account %s at %s", resolved.email, resolved.ews_url)
    return provider, resolved


async def _reached(step: Awaitable[T]) -> T:
    """`step`'s result; its failures other than a refused login, a too old server or autodiscover finding nothing
    become the one UNREACHABLE_MESSAGE error (the cause is logged, not answered)."""
    try:
        return await step
    except (ProviderAuthError, ProviderVersionError, _NotDiscovered):
        raise
    except Exception as exc:
        log.info("Exchange endpoint not reached: %s: %s", type(exc).__name__, exc)
        raise ProviderUnavailable(UNREACHABLE_MESSAGE) from exc
