"""The one provider interface: every calendar service speaks through CalendarProvider.

Providers speak the domain's vocabulary (scheduling.calendars, scheduling.slots) and import nothing of the app.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, TypeVar

from scheduling.calendars import FULL_CAPABILITIES, AccessRole, Capabilities, selectable_for_availability
from scheduling.slots import BusyInterval

T = TypeVar("T")


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

    @abc.abstractmethod
    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Cancel the event and notify attendees; an event already deleted, or unknown, is not an error."""

    @abc.abstractmethod
    async def create_calendar(self, name: str) -> ProviderCalendar:
        """The account's own calendar called `name`: an existing owned (non-primary) one of that name is returned
        instead of creating a second, so a retried call creates at most one."""

    async def aclose(self) -> None:
        """Release network resources."""


class LoginGate:
    """One account's logins in this process. Until a call has got past the login lately (`proven_for` seconds),
    calls go one at a time, so a refused password is tried once, not once per parallel request; after a refusal
    no further call is made (the caller marks the connection inactive). Lately proven calls run in parallel."""

    def __init__(self, *, proven_for: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._proven_for = proven_for
        self._clock = clock
        self._lock = asyncio.Lock()
        self._proven_at: float | None = None
        self.refusal: ProviderAuthError | None = None

    @property
    def proven(self) -> bool:
        return self._proven_at is not None and self._clock() - self._proven_at < self._proven_for

    def _check(self) -> None:
        if self.refusal is not None:
            raise type(self.refusal)(self.refusal.message)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn()` through the gate: alone unless the login was proven lately; refused at once after a refusal."""
        self._check()
        if not self.proven:
            async with self._lock:
                self._check()
                if not self.proven:
                    return await self._observed(fn)
        return await self._observed(fn)

    async def _observed(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await fn()
        except ProviderAuthError as exc:
            if self.refusal is None:
                self.refusal = exc
            raise
        except CalendarAccessLost:
            self._proven_at = self._clock()  # signed in, only some calendar is unreadable
            raise
        self._proven_at = self._clock()
        return result


class LoginGates:
    """A LoginGate per key (an account and the credentials it signs in with), the least recently used dropped."""

    def __init__(
        self, *, proven_for: float = 10.0, max_size: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._proven_for = proven_for
        self._max_size = max_size
        self._clock = clock
        self._gates: OrderedDict[str, LoginGate] = OrderedDict()

    def get(self, key: str) -> LoginGate:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = LoginGate(proven_for=self._proven_for, clock=self._clock)
            while len(self._gates) > self._max_size:
                self._gates.popitem(last=False)
        self._gates.move_to_end(key)
        return gate
