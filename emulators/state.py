"""The in-memory world behind every emulator: accounts, calendars, events, faults, and OAuth tokens.

Each emulator (Google, Microsoft, Exchange) renders this one model in its provider's wire format, so the
same provider test suite can run against all three and faults are injected the same way everywhere.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emulators.oauth import OAuthBook


class AccessRole(str, enum.Enum):
    """An account's role on a calendar, as Google's calendarList `accessRole` spells it on the wire.

    The emulators' own type: they stand in for foreign services and import nothing of the app. Microsoft
    and Exchange render these roles in their own vocabulary (calendarPermission roles, effective rights).
    """

    OWNER = "owner"
    WRITER = "writer"
    READER = "reader"
    FREE_BUSY = "freeBusyReader"


def utcnow() -> datetime:
    return datetime.now(UTC)


SHOW_AS_STATUSES = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
"""Free/busy statuses as Graph's `showAs` spells them; each emulator renders them in its own vocabulary."""
LEGACY_FREE_BUSY = {
    "free": "Free",
    "tentative": "Tentative",
    "busy": "Busy",
    "oof": "OOF",
    "workingElsewhere": "WorkingElsewhere",
    "unknown": "NoData",
}
"""Each status as EWS's LegacyFreeBusyStatus names it (NoData: the status is unknown)."""
NOT_BLOCKING_SHOW_AS = frozenset({"free", "workingelsewhere"})
"""Statuses the services leave out of busy time (lower case); every other status is busy time."""


def show_as_blocks(show_as: str) -> bool:
    """Whether the services count an event shown this way as busy time (Exchange's merged free/busy view)."""
    return show_as.lower() not in NOT_BLOCKING_SHOW_AS


@dataclass(frozen=True)
class EmulatedRecurrence:
    """A daily or weekly series: every `interval` days or weeks (on `weekdays`, Monday = 0), ending after `count`
    occurrences or at `until` (or never)."""

    frequency: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    count: int | None = None
    until: datetime | None = None


_SEQUENCE = itertools.count(1)
"""Every change to any emulated event takes the next number: what sync tokens and delta links remember."""
UNTRACKED = frozenset({"seq", "on_change", "updated", "updates_sent"})


@dataclass
class EmulatedEvent:
    id: str
    calendar_id: str
    summary: str
    start: datetime
    end: datetime
    attendees: list[str] = field(default_factory=list)
    description: str | None = None
    busy: bool = True
    cancelled: bool = False
    invitations_sent: bool = False
    updates_sent: int = 0
    """Updates of the event the provider mailed to its attendees (Google `sendUpdates=all`, Graph's organiser PATCH)."""
    properties: dict[str, str] = field(default_factory=dict)
    """Client-set properties a provider dedups creates by: Graph's `transactionId`, EWS extended properties
    (keyed by emulators.exchange_wire.extended_property_key)."""
    show_as: str | None = None
    """The free/busy status as Microsoft names it (free, tentative, busy, oof, workingElsewhere); None: from `busy`."""
    timezone: str = "UTC"
    """The zone the event was written in (IANA name), as each provider shows it back in its own vocabulary."""
    all_day: bool = False
    """An all-day event: start and end are midnights in `timezone`."""
    recurrence: EmulatedRecurrence | None = None
    """A series: `start`/`end` are the first occurrence's."""
    occurrence_of: str | None = None
    """On one occurrence of a series (as EmulatorState.occurrences expands it): the series' id."""
    organizer: str | None = None
    """The organiser's address; None: the calendar's owner."""
    created_by_app: str | None = None
    """Another application created it through the API (Google's `source.title`, Graph's app): not the user."""
    seq: int = 0
    """The number of its last change (emulators.state._SEQUENCE): bumped by every attribute set, so that sync
    tokens and delta links find what changed since they were issued. Deleting is `cancelled = True`."""
    on_change: Callable[[EmulatedEvent], None] | None = field(default=None, repr=False, compare=False)
    """Set by EmulatorState.add_event: told of every change (push notifications start there)."""
    updated: datetime | None = field(default=None, compare=False)
    """When it last changed by the state's clock (Google's `updated`), set with every change after add_event."""

    def __setattr__(self, name: str, value: object) -> None:
        """`show_as` and `busy` stay in sync: a status sets `busy`; a `busy` that contradicts it clears it.
        Every change takes a new `seq` and is reported to `on_change`."""
        object.__setattr__(self, name, value)
        show_as = getattr(self, "show_as", None)
        if name == "show_as" and isinstance(value, str):
            object.__setattr__(self, "busy", show_as_blocks(value))
        elif name == "busy" and show_as is not None and show_as_blocks(show_as) != value:
            object.__setattr__(self, "show_as", None)
        if name in UNTRACKED:
            return
        object.__setattr__(self, "seq", next(_SEQUENCE))
        listener = getattr(self, "on_change", None)
        if listener is not None:
            listener(self)

    @property
    def status(self) -> str:
        """The free/busy status as Graph's `showAs` spells it: `show_as`, else busy or free from `busy`."""
        if self.show_as is not None:
            return self.show_as
        return "busy" if self.busy else "free"

    @property
    def legacy_free_busy_status(self) -> str:
        """The status as EWS's LegacyFreeBusyStatus names it."""
        return LEGACY_FREE_BUSY[self.status]


@dataclass
class EmulatedCalendar:
    id: str
    name: str
    owner_email: str
    events: dict[str, EmulatedEvent] = field(default_factory=dict)
    timezone: str = "UTC"
    """The calendar's zone (IANA): Google's calendar `timeZone`, in which its all-day events' dates are read."""


@dataclass
class EmulatedAccount:
    email: str
    name: str
    password: str = "app-password"
    primary_calendar_id: str = ""
    access: dict[str, AccessRole] = field(default_factory=dict)
    """Calendars this account sees, with its role on each (its own are OWNER)."""
    lost: set[str] = field(default_factory=set)
    """Calendars this account has lost access to (still listed by nobody, errors in free/busy)."""
    personal: bool = False
    """A personal Microsoft account (outlook.com, hotmail.com): Graph's getSchedule is not supported for it."""
    shared_mailbox: bool = False
    two_factor: bool = False
    lockout_threshold: int = 10
    """Bad passwords within `lockout_window` that lock the account, as Active Directory counts them (its account
    lockout threshold; Windows' default since Server 2025 / Windows 11 22H2 is 10); 0 never locks."""
    lockout_window: timedelta = timedelta(minutes=10)
    """AD's "reset account lockout counter after": a bad password this long after the last one counts from 1."""
    lockout_duration: timedelta = timedelta(minutes=10)
    bad_password_count: int = 0
    bad_password_time: datetime | None = None
    locked_out_until: datetime | None = None
    refused_logins: int = 0
    """Logins refused so far (wrong password, or any password while locked out): what the server saw."""

    def locked_out(self, now: datetime) -> bool:
        return self.locked_out_until is not None and now < self.locked_out_until

    def record_login(self, password_ok: bool, now: datetime) -> bool:
        """Counts one login as Active Directory does; whether it is accepted. A locked-out account refuses even the
        right password; a right password otherwise clears the bad-password count."""
        if self.locked_out(now) or not password_ok:
            self.refused_logins += 1
        if self.locked_out(now):
            return False
        if password_ok:
            self.bad_password_count = 0
            return True
        if self.bad_password_time is None or now - self.bad_password_time >= self.lockout_window:
            self.bad_password_count = 0
        self.bad_password_count += 1
        self.bad_password_time = now
        if self.lockout_threshold and self.bad_password_count >= self.lockout_threshold:
            self.locked_out_until = now + self.lockout_duration
        return False


HOLD_POLL_SECONDS = 0.01

LOST_ANSWER_MODES = ("timeout", "disconnect", "503")
"""How the answer to a create the server stored is lost: delayed past the client's timeout, the connection dropped
mid-answer, or replaced by the provider's 503."""


@dataclass
class Faults:
    """Trouble to inject: latency on every API call, scripted failures, revoked grants, lost answers, held creates."""

    latency_seconds: float = 0.0
    fail_next: list[int] = field(default_factory=list)
    """Status codes answered (in order) to the next API calls instead of serving them: 429, 500, 503..."""
    retry_after_seconds: int = 1
    revoked: bool = False
    """Every refresh token answers invalid_grant and access tokens are rejected."""
    api_calls: int = 0
    lose_next_create: str | None = None
    """One of LOST_ANSWER_MODES: the next event create is stored, then its answer is lost that way (once)."""
    lost_answer_delay_seconds: float = 3.0
    """How long a "timeout" lost answer is held back (longer than the client's read timeout)."""
    hold_creates: bool = False
    """Event creates wait once their request is read, before anything is stored, until this is false again: a
    write in flight (the client may die meanwhile; the create is then stored with nobody to answer)."""
    creates_held: int = 0
    """Creates waiting under `hold_creates` right now."""

    async def hold_create(self) -> None:
        """Wait here while `hold_creates` is set (a flag another thread may clear: polled, not awaited)."""
        if not self.hold_creates:
            return
        self.creates_held += 1
        try:
            while self.hold_creates:
                await asyncio.sleep(HOLD_POLL_SECONDS)
        finally:
            self.creates_held -= 1

    def take_lost_answer(self) -> str | None:
        mode, self.lose_next_create = self.lose_next_create, None
        return mode

    def take_failure(self) -> int | None:
        self.api_calls += 1
        return self.fail_next.pop(0) if self.fail_next else None

    async def delay(self) -> None:
        if self.latency_seconds > 0:
            await asyncio.sleep(self.latency_seconds)


def occurrence_id(series_id: str, index: int) -> str:
    """The id of a series' occurrence (0 is the first), as the emulators show it."""
    return f"{series_id}occ{index:05d}"


def event_zone(event: EmulatedEvent) -> ZoneInfo:
    try:
        return ZoneInfo(event.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _series_dates(first: date, rule: EmulatedRecurrence) -> Iterator[date]:
    """The dates of a daily or weekly series from its first date on, without end (count/until are the caller's)."""
    step = max(1, rule.interval)
    if rule.frequency == "daily":
        day = first
        while True:
            yield day
            day += timedelta(days=step)
    if rule.frequency != "weekly":
        raise ValueError(f"Unknown recurrence frequency {rule.frequency!r}")
    weekdays = sorted(set(rule.weekdays)) or [first.weekday()]
    monday = first - timedelta(days=first.weekday())
    while True:
        for weekday in weekdays:
            day = monday + timedelta(days=weekday)
            if day >= first:
                yield day
        monday += timedelta(weeks=step)


def expand_series(event: EmulatedEvent, before: datetime) -> Iterator[EmulatedEvent]:
    """The occurrences of a series starting before `before`, each at the series' wall-clock time in its zone (so a
    09:00 meeting stays at 09:00 across daylight-saving changes; an all-day one stays midnight to midnight)."""
    rule = event.recurrence
    if rule is None:
        return
    zone = event_zone(event)
    local_start = event.start.astimezone(zone)
    local_end = event.end.astimezone(zone)
    days = local_end.date() - local_start.date()
    for index, day in enumerate(_series_dates(local_start.date(), rule)):
        if rule.count is not None and index >= rule.count:
            return
        start = datetime.combine(day, local_start.time(), zone).astimezone(UTC)
        if start >= before or (rule.until is not None and start > rule.until):
            return
        end = datetime.combine(day + days, local_end.time(), zone).astimezone(UTC)
        yield replace(
            event, id=occurrence_id(event.id, index), start=start, end=end, recurrence=None, occurrence_of=event.id
        )


class EmulatorState:
    """Thread-safe enough for one emulator process: every mutation takes the lock.

    The helpers tests and the control surface use are named alike for every emulator:
    `add_account`, `add_calendar`, `add_share`, `add_event` seed the world; `lose_access` and
    `restore_access` change what an account may read; `account`, `role`, `visible_calendars` and `busy`
    look things up. A helper about an account's view of a calendar takes the account's email first, then
    the calendar id (then the role). Faults are set on `faults` and tokens are minted with `oauth`.
    """

    def __init__(self, id_prefix: str, clock: Callable[[], datetime] = utcnow) -> None:
        self.id_prefix = id_prefix
        self.clock = clock
        self.lock = threading.RLock()
        self.accounts: dict[str, EmulatedAccount] = {}
        self.calendars: dict[str, EmulatedCalendar] = {}
        self.faults = Faults()
        self.oauth = OAuthBook(self.faults, clock)
        """OAuth codes and tokens (Google, Microsoft): mint tokens, expire them, check a bearer token."""
        self.change_listeners: list[Callable[[EmulatedEvent], None]] = []
        """Told of every change to an event of this world (the emulators' push notifications); called in the
        thread that made the change, so a listener hands the work to its own loop thread-safely."""
        self.sync_floor: dict[str, int] = {}
        """Per calendar: sync tokens / delta links / sync states issued before this `seq` are refused as expired
        (Google 410 Gone, Graph syncStateNotFound, EWS ErrorInvalidSyncStateData); see `expire_sync_state`."""
        self.push_routes: dict[str, str] = {}
        """Where push notifications for an https origin are delivered instead ("https://app.example" ->
        "http://127.0.0.1:8123"): the TLS-terminating proxy in front of the app, which tests stand in for."""
        self.google_channel_ttl = timedelta(days=7)
        """The longest (and the default) lifetime of a Google watch channel; tests make it short."""
        self.find_count_limit = 1000
        """Exchange's EWSFindCountLimit: the most items one FindItem answers (more without paging is an error)."""
        self.find_count_in_use = 0
        """Items the caller's other FindItems in flight hold against that limit right now (one budget per caller)."""
        self._counter = 0

    # ids -----------------------------------------------------------------
    def new_id(self, kind: str) -> str:
        with self.lock:
            self._counter += 1
            return f"{self.id_prefix}{kind}{self._counter:06d}{secrets.token_hex(4)}"

    # accounts and calendars ---------------------------------------------
    def add_account(
        self,
        email: str,
        name: str | None = None,
        *,
        password: str = "app-password",
        primary_calendar_id: str | None = None,
    ) -> EmulatedAccount:
        with self.lock:
            account = EmulatedAccount(email=email, name=name or email.split("@")[0], password=password)
            self.accounts[email.lower()] = account
            primary = self.add_calendar(email, "Calendar", calendar_id=primary_calendar_id or self.new_id("cal"))
            account.primary_calendar_id = primary.id
            return account

    def account(self, email: str) -> EmulatedAccount | None:
        return self.accounts.get(email.lower())

    def add_calendar(self, owner_email: str, name: str, *, calendar_id: str | None = None) -> EmulatedCalendar:
        with self.lock:
            calendar = EmulatedCalendar(
                id=calendar_id or self.new_id("cal"), name=name, owner_email=owner_email.lower()
            )
            self.calendars[calendar.id] = calendar
            owner = self.account(owner_email)
            if owner is not None:
                owner.access[calendar.id] = AccessRole.OWNER
            return calendar

    def add_share(self, email: str, calendar_id: str, role: AccessRole) -> None:
        """The account sees another account's calendar with `role` (shared with it)."""
        with self.lock:
            account = self.accounts[email.lower()]
            account.access[calendar_id] = AccessRole(role)

    def lose_access(self, email: str, calendar_id: str) -> None:
        """The account can no longer read the calendar (unshared, deleted, permissions changed)."""
        with self.lock:
            account = self.accounts[email.lower()]
            account.lost.add(calendar_id)

    def restore_access(self, email: str, calendar_id: str) -> None:
        with self.lock:
            self.accounts[email.lower()].lost.discard(calendar_id)

    def visible_calendars(self, email: str) -> list[tuple[EmulatedCalendar, AccessRole]]:
        account = self.accounts[email.lower()]
        return [
            (self.calendars[cid], role)
            for cid, role in account.access.items()
            if cid in self.calendars and cid not in account.lost
        ]

    def role(self, email: str, calendar_id: str) -> AccessRole | None:
        account = self.accounts[email.lower()]
        if calendar_id in account.lost or calendar_id not in self.calendars:
            return None
        return account.access.get(calendar_id)

    # events --------------------------------------------------------------
    def add_event(
        self,
        calendar_id: str,
        start: datetime,
        end: datetime,
        summary: str = "Busy",
        *,
        attendees: list[str] | None = None,
        description: str | None = None,
        busy: bool = True,
        invitations_sent: bool = False,
        event_id: str | None = None,
        properties: dict[str, str] | None = None,
        show_as: str | None = None,
        timezone: str = "UTC",
        all_day: bool = False,
        recurrence: EmulatedRecurrence | None = None,
    ) -> EmulatedEvent:
        if show_as is not None and show_as not in SHOW_AS_STATUSES:
            raise ValueError(f"show_as must be one of {', '.join(SHOW_AS_STATUSES)}, not {show_as!r}")
        with self.lock:
            event = EmulatedEvent(
                id=event_id or self.new_id("evt"),
                calendar_id=calendar_id,
                summary=summary,
                start=start.astimezone(UTC),
                end=end.astimezone(UTC),
                attendees=list(attendees or []),
                description=description,
                busy=busy,
                invitations_sent=invitations_sent,
                properties=dict(properties or {}),
                show_as=show_as,
                timezone=timezone,
                all_day=all_day,
                recurrence=recurrence,
            )
            object.__setattr__(event, "seq", next(_SEQUENCE))  # the constructor leaves the field's default, 0
            self.calendars[calendar_id].events[event.id] = event
            event.on_change = self._event_changed
            self._event_changed(event)
            return event

    def _event_changed(self, event: EmulatedEvent) -> None:
        object.__setattr__(event, "updated", self.clock())
        for listener in list(self.change_listeners):
            listener(event)

    def current_seq(self) -> int:
        """A number to issue a sync token at: every change made before has a smaller `seq`, every later one a
        larger."""
        return next(_SEQUENCE)

    def changed_since(self, calendar_id: str, seq: int) -> list[EmulatedEvent]:
        """The calendar's events (cancelled ones included) changed after `seq`, oldest change first."""
        with self.lock:
            events = [e for e in self.calendars[calendar_id].events.values() if e.seq > seq]
        return sorted(events, key=lambda e: e.seq)

    def expire_sync_state(self, calendar_id: str) -> None:
        """Make every sync token issued so far for the calendar expired (as providers do after a while)."""
        with self.lock:
            self.sync_floor[calendar_id] = next(_SEQUENCE)

    def sync_state_valid(self, calendar_id: str, issued_at: int) -> bool:
        return issued_at >= self.sync_floor.get(calendar_id, 0)

    def event_with_property(self, calendar_id: str, name: str, value: str) -> EmulatedEvent | None:
        """The calendar's event carrying property `name` = `value` (cancelled ones included), if any."""
        with self.lock:
            return next(
                (e for e in self.calendars[calendar_id].events.values() if e.properties.get(name) == value), None
            )

    def live_events(self, calendar_id: str) -> list[EmulatedEvent]:
        """The calendar's events that are not cancelled (what a duplicate-free calendar is counted by)."""
        with self.lock:
            return [e for e in self.calendars[calendar_id].events.values() if not e.cancelled]

    def occurrences(self, calendar_id: str, start: datetime, end: datetime) -> list[EmulatedEvent]:
        """The calendar's single events and the occurrences of its series overlapping [start, end), by start.

        An occurrence is a copy of its series with its own id, start and end, `occurrence_of` the series' id and no
        `recurrence`. Cancelled events are included (each emulator decides how to show them).
        """
        with self.lock:
            events = list(self.calendars[calendar_id].events.values())
        found: list[EmulatedEvent] = []
        for event in events:
            if event.recurrence is None:
                if event.start < end and event.end > start:
                    found.append(event)
                continue
            found.extend(o for o in expand_series(event, end) if o.end > start)
        return sorted(found, key=lambda e: (e.start, e.id))

    def busy(self, calendar_id: str, start: datetime, end: datetime) -> list[EmulatedEvent]:
        """Busy, not cancelled events and occurrences overlapping [start, end), by start."""
        return [e for e in self.occurrences(calendar_id, start, end) if e.busy and not e.cancelled]

    # demo data -----------------------------------------------------------
    def seed_demo(self, email: str, name: str) -> EmulatedAccount:
        """An account with a primary calendar, a second owned one, a full-detail share and a free/busy share."""
        account = self.add_account(email, name)
        self.add_calendar(email, "Team events")
        colleague = f"colleague@{email.split('@', 1)[1]}"
        if self.account(colleague) is None:
            self.add_account(colleague, "Colleague")
        full = self.add_calendar(colleague, "Colleague (full details)")
        freebusy = self.add_calendar(colleague, "Colleague (free/busy only)")
        self.add_share(email, full.id, AccessRole.READER)
        self.add_share(email, freebusy.id, AccessRole.FREE_BUSY)
        return account
