"""The one provider interface: every calendar service speaks through CalendarProvider.

Providers speak the domain's vocabulary (scheduling.calendars, scheduling.slots) and import nothing of the app.
"""

from __future__ import annotations

import abc
import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from scheduling.calendars import FULL_CAPABILITIES, AccessRole, Capabilities, selectable_for_availability
from scheduling.slots import BusyInterval


@dataclass(frozen=True)
class ProviderCalendar:
    id: str
    name: str
    is_primary: bool
    access_role: AccessRole

    @property
    def selectable_for_availability(self) -> bool:
        return selectable_for_availability(self.access_role)


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class EventDraft:
    summary: str
    start: datetime
    end: datetime
    attendees: Sequence[Attendee] = ()
    description: str | None = None
    timezone: str = "UTC"
    key: str | None = None
    """Idempotency key: the string form of the meeting's (or task's) UUID. Creating an event with a key the
    calendar has already seen returns that event's id and creates nothing (see CalendarProvider.create_event)."""


class ProviderError(Exception):
    """Base of every provider failure; the message is safe to show to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProviderAuthError(ProviderError):
    """Login refused, or the grant/token was revoked (the connection becomes inactive)."""


class AccountLockedOut(ProviderAuthError):
    """The server says the account is locked out (too many failed logins): only its administrator or time unlocks
    it, and every further login attempt prolongs the lockout."""


class CalendarAccessLost(ProviderError):
    """The account can no longer read one or more calendars."""

    def __init__(self, calendar_ids: Sequence[str], message: str | None = None) -> None:
        super().__init__(message or f"access lost to calendar(s): {', '.join(calendar_ids)}")
        self.calendar_ids = tuple(calendar_ids)


class ProviderRateLimited(ProviderError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """5xx, timeouts or connection failures that outlasted the retries."""


class ProviderVersionError(ProviderError):
    """The server is too old (Exchange before 2010 SP2)."""


class ProviderRequestError(ProviderError):
    """A 4xx the provider gave for our request (not retried)."""


class UnsupportedOperation(ProviderError):
    """The provider does not offer this operation (declared in its capabilities)."""


@dataclass
class BusyByCalendar:
    """get_busy's answer: busy intervals per calendar id."""

    intervals: dict[str, list[BusyInterval]] = field(default_factory=dict)

    def all(self) -> list[BusyInterval]:
        return [i for spans in self.intervals.values() for i in spans]


@dataclass(frozen=True)
class SyncedEvent:
    """One event (an instance, for series) as a sync reports it; all datetimes aware."""

    id: str
    """The provider's id of the event or instance; the store's key within the calendar."""
    start: datetime
    end: datetime
    blocks: bool
    """Counts as busy time: scheduling.free_busy.blocks_time of the event's status (transparency for Google)."""
    status: str = ""
    """The status as the provider spelled it (showAs, transparency, LegacyFreeBusyStatus)."""
    summary: str = ""
    organizer_email: str | None = None
    organized_by_account: bool = False
    """The connected account organises it (Google organizer.self, Graph isOrganizer, EWS IsOrganizer)."""
    attendees: tuple[Attendee, ...] = ()
    version: str | None = None
    """Google etag, Graph changeKey, EWS ChangeKey: changes whenever the event does."""
    key: str | None = None
    """The EventDraft.key meetgraph created it with (Google's client-supplied id, Graph's transactionId, the EWS
    extended property), recognised even when the event arrives before the create call answered."""
    from_integration: bool = False
    """Created by another application through the provider's API (two-way sync does not import it)."""
    series_id: str | None = None


@dataclass
class SyncBatch:
    """sync_events' answer: what changed since the cursor (or, for a full sync, everything in the window)."""

    changed: list[SyncedEvent]
    """New or changed events (a full sync: every event of the window)."""
    removed: list[str]
    """Ids of events deleted or cancelled since the cursor (a full sync: none; what it omits is gone)."""
    cursor: str
    """Pass to the next sync_events for the changes after this batch."""
    full: bool
    """A full listing of [window_start, window_end): the store replaces the calendar's events with `changed`."""
    window_start: datetime | None = None
    window_end: datetime | None = None
    """For a full sync: the span it listed (incremental batches keep the span of the full sync they follow)."""


class SyncCursorExpired(ProviderError):
    """The cursor is no longer valid (Google 410 Gone, Graph syncStateNotFound/resyncRequired, EWS invalid
    SyncState): the caller starts again with a full sync."""


@dataclass(frozen=True)
class Watch:
    """A push channel as the provider answered it: a Google watch channel or a Graph subscription."""

    channel_id: str
    """Google: the channel id we chose; Graph: the subscription id it answered."""
    resource_id: str | None
    """Google's resourceId (needed to stop the channel); Graph's subscribed resource."""
    expires_at: datetime
    """The expiry the provider answered (never assumed)."""


class PushUnsupported(UnsupportedOperation):
    """The provider will not push changes of this calendar to this address (e.g. Graph subscribes to the user's
    own mailbox only, Google requires an https address): the calendar is polled instead."""


class CalendarProvider(abc.ABC):
    """A connected calendar account. All datetimes in and out are timezone-aware."""

    capabilities: ClassVar[Capabilities] = FULL_CAPABILITIES

    @abc.abstractmethod
    async def account_email(self) -> str: ...

    @abc.abstractmethod
    async def list_calendars(self) -> list[ProviderCalendar]: ...

    @abc.abstractmethod
    async def get_busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> BusyByCalendar:
        """Busy time of each calendar; raises CalendarAccessLost naming every unreadable one."""

    @abc.abstractmethod
    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        """Create the event (attendees invited) and return the provider's event id.

        With `draft.key`, at most one event is ever created for that key in the calendar: a repeated call (a retry
        after a timeout, a crash after the provider accepted, a concurrent call) returns the same event id, also
        when the event has been deleted since. Without a key, a request that may have reached the provider is
        never sent again (a timeout or 5xx surfaces as ProviderUnavailable).
        """

    @abc.abstractmethod
    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        """Replace the event's fields with the draft's (idempotent: sending it twice changes nothing more)."""

    async def move_event(
        self, calendar_id: str, event_id: str, start: datetime, end: datetime, timezone: str = "UTC"
    ) -> None:
        """Move the event to [start, end), written in `timezone` (an IANA name), in place: same event id, every
        other field (title, text, attendees: possibly the owner's own, which meetgraph does not hold) left as it
        is; the attendees are notified. Idempotent. UnsupportedOperation where the provider cannot (its
        capabilities then say so: `reschedule_meetings` false)."""
        raise UnsupportedOperation("This calendar service cannot move events")

    @abc.abstractmethod
    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Cancel the event and notify attendees; an event already deleted, or unknown, is not an error."""

    @abc.abstractmethod
    async def create_calendar(self, name: str) -> ProviderCalendar:
        """The account's own calendar called `name`: an existing owned (non-primary) one of that name is returned
        instead of creating a second, so a retried call creates at most one."""

    async def aclose(self) -> None:
        """Release network resources."""

    async def sync_events(
        self, calendar_id: str, cursor: str | None, window_start: datetime, window_end: datetime
    ) -> SyncBatch:
        """With `cursor` None, a full sync: every event (instances of series) overlapping the window and a cursor;
        else what changed since the cursor (the provider may report changes outside the window). Raises
        SyncCursorExpired when the cursor is no longer valid, CalendarAccessLost / ProviderAuthError as get_busy
        does. UnsupportedOperation where the provider offers no sync (the calendar stays LIVE)."""
        raise UnsupportedOperation("This calendar service offers no way to sync events")

    async def watch(self, calendar_id: str, *, channel_id: str, address: str, token: str) -> Watch:
        """Ask the provider to notify `address` of the calendar's changes, with `token` sent back in every
        notification (Google channel token, Graph clientState). PushUnsupported where it will not."""
        raise PushUnsupported("This calendar service does not push changes")

    async def renew_watch(self, calendar_id: str, old: Watch, *, channel_id: str, address: str, token: str) -> Watch:
        """Extend a channel before it expires. Graph extends the subscription in place (same channel id, new
        expiry); Google cannot, so a new channel (`channel_id`) is opened and the caller stops the old one."""
        return await self.watch(calendar_id, channel_id=channel_id, address=address, token=token)

    async def stop_watch(self, watch: Watch) -> None:
        """Stop a channel; one already stopped, expired or unknown is not an error."""

    async def shared_calendar(self, address: str) -> ProviderCalendar:
        """The calendar of another mailbox, `address`, as the account reads it (never primary, never owned).

        Raises CalendarNotShared when the account cannot read its event details; UnsupportedOperation where the
        provider offers no way to open another mailbox's calendar by address (the default)."""
        raise UnsupportedOperation(
            "This calendar service cannot add another mailbox's calendar by address; the calendars shared with the "
            "account are listed when it is connected"
        )


class CalendarNotShared(ProviderError):
    """Another mailbox's calendar the account cannot read with event details: no such mailbox, not shared with
    the account, or shared as free/busy only."""


class CertificateNotTrusted(ProviderUnavailable):
    """The server's TLS certificate is not trusted (a private CA, self-signed, expired or for another name)."""


class NotAnExchangeEndpoint(ProviderUnavailable):
    """The server at the URL answered, but not as Exchange Web Services (a web page, a redirect to Outlook on the
    web, another service)."""


class AuthMethodUnsupported(ProviderAuthError):
    """The server offers no login method we speak with a password (we speak NTLM and Basic)."""


class ModernAuthOnly(AuthMethodUnsupported):
    """The server takes OAuth (modern auth) tokens only: no password login is possible."""


class ExchangeOnlineAccount(ModernAuthOnly):
    """The mailbox is in Exchange Online (Microsoft 365), which takes no passwords for EWS: connect it as
    Office 365 instead."""


class AccountDisabled(AccountLockedOut):
    """The server says the account is disabled: only its administrator can enable it."""


class MailboxTemporarilyUnavailable(ProviderUnavailable):
    """The mailbox is briefly out of reach (being moved, its database failing over): retried, never final."""


class EndpointUnreachable(ProviderUnavailable):
    """No server of the kind answered at a user-given address; told alike whatever the cause (a refused address,
    a closed port, a timeout, DNS), so nobody can map a network through it."""


class LoginGate:
    """One account's sign-ins in this process, so that a refused password is sent once, not once per parallel
    request (every refused sign-in counts towards the server's lockout).

    A call either leads (signs in alone) or follows a lead in flight: followers wait for it and, once it got past
    the login, run in parallel; a call arriving with no lead in flight leads itself. After a refusal every call is
    refused at once without reaching the server (a copy of the refusal). The caller reports its lead's outcome
    with `led`, and a refusal met while following with `refused`."""

    def __init__(self) -> None:
        self._lead: asyncio.Future[bool] | None = None
        self.refusal: ProviderAuthError | None = None

    def _check(self) -> None:
        if self.refusal is not None:
            kind = AccountLockedOut if isinstance(self.refusal, AccountLockedOut) else ProviderAuthError
            raise kind(self.refusal.message)

    async def enter(self) -> bool:
        """True when the caller must lead (and then call `led`); False when a concurrent lead just signed in."""
        while True:
            self._check()
            if self._lead is None:
                self._lead = asyncio.get_running_loop().create_future()
                return True
            if await asyncio.shield(self._lead):
                return False
            # the lead failed without telling whether the login works (or was refused: _check raises)

    def led(self, failure: BaseException | None) -> None:
        """The lead's outcome: None when it succeeded, else what it raised."""
        lead, self._lead = self._lead, None
        if isinstance(failure, ProviderAuthError):
            self.refused(failure)
        signed_in = failure is None or isinstance(failure, SIGNED_IN_FAILURES)
        if lead is not None and not lead.done():
            lead.set_result(signed_in)

    def refused(self, refusal: ProviderAuthError) -> None:
        if self.refusal is None:
            self.refusal = refusal


SIGNED_IN_FAILURES = (CalendarAccessLost, ProviderRequestError, UnsupportedOperation)
"""Failures the server answered after accepting the login."""


class LoginGates:
    """A LoginGate per key (an account and the credentials it signs in with), the least recently used dropped."""

    def __init__(self, *, max_size: int = 4096) -> None:
        self._max_size = max_size
        self._gates: OrderedDict[str, LoginGate] = OrderedDict()

    def get(self, key: str) -> LoginGate:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = LoginGate()
            while len(self._gates) > self._max_size:
                self._gates.popitem(last=False)
        self._gates.move_to_end(key)
        return gate
