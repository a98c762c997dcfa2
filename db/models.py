"""The tables. UUID keys, UTC timestamps, explicit cascades, constraints for every invariant."""

from __future__ import annotations

import enum
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Enum, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow
from scheduling.booking_rules import BookingOutcome, MeetingStatus
from scheduling.calendars import ConnectionStatus
from scheduling.licences import Hub, SeatTier

__all__ = [  # the domain's enums are column types here, importable with the tables
    "Account",
    "ApiToken",
    "BookingAttempt",
    "BookingKey",
    "BookingOutcome",
    "Calendar",
    "CalendarEvent",
    "CalendarConnection",
    "CalendarSettings",
    "ConnectionStatus",
    "Domain",
    "EmailInbox",
    "Hub",
    "InactiveReason",
    "Job",
    "JobState",
    "Meeting",
    "MeetingSource",
    "MeetingStatus",
    "OAuthState",
    "PushChannel",
    "SchedulingPage",
    "SeatTier",
    "SyncMode",
    "SyncState",
    "Task",
]


class MeetingSource(str, enum.Enum):
    PAGE = "PAGE"
    CRM = "CRM"
    INTEGRATION = "INTEGRATION"
    """A CRM meeting logged by an integration (shown as CRM in the API)."""
    CALENDAR = "CALENDAR"
    """Created in the connected calendar with a contact invited, and synced in (two-way sync)."""


class SyncMode(str, enum.Enum):
    """How a calendar's events are kept current (the API's CalendarSyncMode)."""

    PUSH = "PUSH"
    """The provider notifies us of changes (a live Google channel or Graph subscription); polled as a safety net."""
    POLL = "POLL"
    """Asked for changes on a timer (no push possible for this calendar or deployment)."""
    LIVE = "LIVE"
    """Read from the provider when needed: not synced yet, or the provider offers no sync."""


class SyncState(str, enum.Enum):
    NOT_SYNCED = "NOT_SYNCED"
    """Nothing is to be written to a calendar (offline request, sync off, integration)."""
    PENDING = "PENDING"
    """To be written; retried until it is."""
    SYNCED = "SYNCED"
    FAILED = "FAILED"
    """The provider refused for good; the meeting is kept and shown as not in the calendar."""


class InactiveReason(str, enum.Enum):
    """Why a connection became INACTIVE: what the owner must do to use it again."""

    PASSWORD_REFUSED = "PASSWORD_REFUSED"
    """The server refused the stored password (changed or expired): the owner re-enters it."""
    ACCOUNT_LOCKED_OUT = "ACCOUNT_LOCKED_OUT"
    """The server says the account is locked out: wait or have it unlocked, then re-enter the password."""
    ACCESS_REVOKED = "ACCESS_REVOKED"
    """The OAuth grant was revoked or cannot be refreshed: the owner connects the calendar again."""


class JobState(str, enum.Enum):
    PENDING = "PENDING"
    """Waiting for `run_at` (new, or retried after a failure)."""
    RUNNING = "RUNNING"
    """Claimed by a worker until `locked_until`; a worker that dies leaves it to be claimed again then."""
    DONE = "DONE"
    FAILED = "FAILED"
    """Failed for good (a permanent error, or the retry budget spent); kept for operators."""


def _id() -> uuid.UUID:
    return uuid.uuid4()


def _enum(kind: type[enum.Enum], default: enum.Enum | None = None) -> Any:
    """A VARCHAR enum (no native database type, so adding values needs no type migration).

    Returns what sqlmodel's Field returns (typed Any by sqlmodel itself)."""
    sa_type = Enum(kind, native_enum=False, length=32, validate_strings=True)
    if default is None:
        return Field(sa_type=sa_type, nullable=False)
    return Field(default=default, sa_type=sa_type, nullable=False)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    created_at: datetime = _created()


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="accounts.id", ondelete="CASCADE", index=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    personal_email_access: bool = True
    hub: Hub = _enum(Hub, Hub.NONE)
    tier: SeatTier = _enum(SeatTier, SeatTier.FREE)
    paid_seat: bool = False
    legacy_dual_forfeited: bool = False
    """A legacy two-account user who removed one of them (scheduling.connection_rules)."""
    created_at: datetime = _created()


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("length(trim(name)) BETWEEN 1 AND 100", name="ck_api_tokens_name_length"),)
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=100)
    """The owner's label ("initial" for the token createUser made); revoking deletes the row."""
    created_at: datetime = _created()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Kept to within meetgraph.context.LAST_USED_PRECISION: authentication writes only when it is older."""


class Domain(SQLModel, table=True):
    __tablename__ = "domains"
    __table_args__ = (
        UniqueConstraint("hostname", "account_id", name="uq_domain_hostname_account"),
        Index(
            "uq_domain_verified_hostname",
            "hostname",
            unique=True,
            sqlite_where=text("verified_at IS NOT NULL"),
            postgresql_where=text("verified_at IS NOT NULL"),
        ),
    )
    """Accounts may claim one host side by side (a squatter cannot block its owner); one claim per host is verified."""
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="accounts.id", ondelete="CASCADE", index=True)
    hostname: str = Field(max_length=253)
    robots_disallow_meetings: bool = False
    created_at: datetime = _created()
    verification_token: str = Field(default_factory=lambda: secrets.token_urlsafe(24), max_length=64)
    """The value the account publishes in DNS TXT at `_meetgraph.<hostname>` to prove control of the host."""
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the TXT record was found; only verified domains serve pages and can be chosen as meeting domain."""


class CalendarConnection(SQLModel, table=True):
    __tablename__ = "calendar_connections"
    __table_args__ = (UniqueConstraint("user_id", "slot", name="uq_connection_user_slot"),)
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    slot: int = 1
    """1 for every user; 2 only for a legacy user's second account. The unique (user, slot) backs the limit."""
    provider: str = Field(max_length=16)
    email: str = Field(max_length=254)
    status: ConnectionStatus = _enum(ConnectionStatus, ConnectionStatus.ACTIVE)
    inactive_reason: InactiveReason | None = Field(
        default=None, sa_type=Enum(InactiveReason, native_enum=False, length=32, validate_strings=True), nullable=True
    )
    """Set with status INACTIVE (by one conditional update: the transition happens once), cleared on reconnect."""
    credentials: str = Field(sa_column=Column(Text, nullable=False), repr=False)
    """Encrypted (Fernet) JSON; never returned by the API nor logged."""
    task_calendar_id: str | None = Field(default=None, max_length=1024)
    created_at: datetime = _created()


class Calendar(SQLModel, table=True):
    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("connection_id", "provider_calendar_id", name="uq_calendar_provider_id"),)
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    connection_id: uuid.UUID = Field(foreign_key="calendar_connections.id", ondelete="CASCADE", index=True)
    provider_calendar_id: str = Field(max_length=1024)
    name: str = Field(max_length=500)
    is_primary: bool = False
    access_role: str = Field(max_length=32)
    status: ConnectionStatus = _enum(ConnectionStatus, ConnectionStatus.ACTIVE)
    is_availability: bool = False
    sync_mode: SyncMode = _enum(SyncMode, SyncMode.LIVE)
    synced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the store last took in every change the provider reported (the end of a full or incremental sync)."""
    sync_cursor: str | None = Field(default=None, sa_column=Column(Text, nullable=True), repr=False)
    """The provider's cursor for the next incremental sync: Google nextSyncToken, Graph deltaLink, EWS SyncState."""
    sync_window_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sync_window_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """The span the store holds every event of (set by a full sync); availability outside it is read live."""
    sync_error: str | None = Field(default=None, max_length=500)
    """The last sync failure (cleared by a successful sync), for operators."""


class CalendarEvent(SQLModel, table=True):
    """The store: one calendar's events (instances of series) as the provider last reported them."""

    __tablename__ = "calendar_events"
    __table_args__ = (
        UniqueConstraint("calendar_id", "provider_event_id", name="uq_calendar_event_provider_id"),
        Index("ix_calendar_events_calendar_start", "calendar_id", "start"),
    )
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    calendar_id: uuid.UUID = Field(foreign_key="calendars.id", ondelete="CASCADE")
    provider_event_id: str = Field(max_length=1024)
    start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    end: datetime = Field(sa_type=UTCDateTime, nullable=False)
    blocks: bool = True
    """Counts as busy time (scheduling.free_busy.blocks_time of its status/transparency)."""
    status: str = Field(default="", max_length=32)
    """The provider's free/busy status or transparency as it sent it (for operators and two-way sync)."""
    summary: str = Field(default="", max_length=500)
    organizer_email: str | None = Field(default=None, max_length=254)
    organized_by_account: bool = False
    """The connected account organises it (Google organizer.self, Graph isOrganizer)."""
    attendees: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """[{"email": ..., "name": ...}] as the provider lists them."""
    version: str | None = Field(default=None, max_length=200)
    """Google etag, Graph changeKey, EWS ChangeKey."""
    meetgraph_key: str | None = Field(default=None, max_length=200)
    """The idempotency key meetgraph wrote the event with (a meeting's or task's id), when it wrote it."""
    from_integration: bool = False
    """Created by another application (not imported by two-way sync)."""
    series_id: str | None = Field(default=None, max_length=1024)
    updated_at: datetime = _created()


class PushChannel(SQLModel, table=True):
    """A Google watch channel or Microsoft Graph subscription that notifies us of a calendar's changes."""

    __tablename__ = "push_channels"
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    calendar_id: uuid.UUID | None = Field(default=None, foreign_key="calendars.id", ondelete="SET NULL", index=True)
    """None once the calendar is gone: the channel is still to be stopped at the provider."""
    connection_id: uuid.UUID | None = Field(
        default=None, foreign_key="calendar_connections.id", ondelete="SET NULL", index=True
    )
    provider: str = Field(max_length=16)
    channel_id: str = Field(max_length=200, unique=True)
    """Google's channel id (ours, a UUID) or Graph's subscription id."""
    resource_id: str | None = Field(default=None, max_length=1024)
    """Google's resourceId (needed to stop the channel); Graph's resource path."""
    token_hash: str = Field(max_length=64, repr=False)
    """SHA-256 of the secret sent back with each notification (Google channel token, Graph clientState)."""
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    """As the provider answered; renewed before it."""
    created_at: datetime = _created()


class EmailInbox(SQLModel, table=True):
    __tablename__ = "email_inboxes"
    __table_args__ = (UniqueConstraint("account_id", "address", name="uq_inbox_account_address"),)
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="accounts.id", ondelete="CASCADE", index=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE", index=True)
    connection_id: uuid.UUID | None = Field(default=None, foreign_key="calendar_connections.id", ondelete="SET NULL")
    address: str = Field(max_length=254)
    shared: bool = False
    created_at: datetime = _created()


class CalendarSettings(SQLModel, table=True):
    __tablename__ = "calendar_settings"
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    calendar_sync: bool = False
    task_sync: bool = False
    scheduling_pages_enabled: bool = False
    meeting_url_prefix: str | None = Field(default=None, max_length=100)
    default_meeting_link_id: uuid.UUID | None = Field(
        default=None, foreign_key="scheduling_pages.id", ondelete="SET NULL"
    )
    meeting_domain_id: uuid.UUID | None = Field(default=None, foreign_key="domains.id", ondelete="SET NULL")
    pages_active: bool = True
    chat_include_meeting_link: bool = False
    chat_meeting_link_id: uuid.UUID | None = Field(default=None, foreign_key="scheduling_pages.id", ondelete="SET NULL")


class SchedulingPage(SQLModel, table=True):
    __tablename__ = "scheduling_pages"
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=200, unique=True)
    """Unique across every domain: /meetings/<slug> is one page wherever it is opened."""
    duration_minutes: int = 30
    timezone: str = Field(default="UTC", max_length=64)
    weekly_hours: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    buffer_minutes: int = 0
    minimum_notice_minutes: int = 0
    created_at: datetime = _created()


class Meeting(SQLModel, table=True):
    __tablename__ = "meetings"
    __table_args__ = (
        Index(
            "uq_meeting_live_slot",
            "user_id",
            "start",
            unique=True,
            sqlite_where=text("status != 'CANCELLED'"),
            postgresql_where=text("status != 'CANCELLED'"),
        ),
        # meetingsConnection's keyset pages: one user's meetings by (start, id), read backwards
        Index("ix_meetings_user_start_id", "user_id", "start", "id"),
        # two-way sync imports an event once, however often (or concurrently) it is synced
        Index(
            "uq_meeting_calendar_event",
            "connection_id",
            "provider_event_id",
            unique=True,
            sqlite_where=text("source = 'CALENDAR'"),
            postgresql_where=text("source = 'CALENDAR'"),
        ),
    )
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    page_id: uuid.UUID | None = Field(default=None, foreign_key="scheduling_pages.id", ondelete="SET NULL")
    connection_id: uuid.UUID | None = Field(default=None, foreign_key="calendar_connections.id", ondelete="SET NULL")
    provider_calendar_id: str | None = Field(default=None, max_length=1024)
    provider_event_id: str | None = Field(default=None, max_length=1024)
    start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    end: datetime = Field(sa_type=UTCDateTime, nullable=False)
    status: MeetingStatus = _enum(MeetingStatus)
    source: MeetingSource = _enum(MeetingSource, MeetingSource.PAGE)
    title: str = Field(default="", max_length=300)
    contact_email: str = Field(max_length=254)
    contact_name: str = Field(default="", max_length=200)
    sync_state: SyncState = _enum(SyncState, SyncState.NOT_SYNCED)
    sync_attempts: int = 0
    sync_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _created()


class BookingAttempt(SQLModel, table=True):
    __tablename__ = "booking_attempts"
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    page_id: uuid.UUID | None = Field(default=None, foreign_key="scheduling_pages.id", ondelete="SET NULL")
    page_slug: str = Field(max_length=200)
    contact_email: str = Field(max_length=254)
    start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    outcome: BookingOutcome = _enum(BookingOutcome)
    message: str | None = Field(default=None, max_length=500)
    occurred_at: datetime = _created()


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=300)
    due: datetime = Field(sa_type=UTCDateTime, nullable=False)
    provider_event_id: str | None = Field(default=None, max_length=1024)
    sync_state: SyncState = _enum(SyncState, SyncState.NOT_SYNCED)
    created_at: datetime = _created()


class OAuthState(SQLModel, table=True):
    __tablename__ = "oauth_states"
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    nonce: str = Field(max_length=64, unique=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    provider: str = Field(max_length=16)
    code_verifier: str = Field(max_length=200, repr=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    browser_hash: str | None = Field(default=None, max_length=64, repr=False)
    """SHA-256 of the secret in the cookie of the browser that opened the authorization URL (first one wins)."""


class Job(SQLModel, table=True):
    """A side effect of a committed change, written in the change's own transaction (see meetgraph/jobs.py)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_at", "state", "run_at"),)
    id: uuid.UUID = Field(default_factory=_id, primary_key=True)
    kind: str = Field(max_length=64)
    key: str | None = Field(default=None, max_length=200, unique=True)
    """At most one job per key (e.g. one calendar write per meeting): enqueuing it again is a no-op."""
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: JobState = _enum(JobState, JobState.PENDING)
    attempts: int = 0
    max_attempts: int = 5
    run_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    locked_by: str | None = Field(default=None, max_length=100)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _created()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BookingKey(SQLModel, table=True):
    """bookMeeting's idempotencyKey: the first request's fingerprint and result, answered again for 24 hours."""

    __tablename__ = "booking_keys"
    key_hash: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=64)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meetings.id", ondelete="CASCADE")
    error_type: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, max_length=500)
    error_field: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
