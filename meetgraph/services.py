"""The app's wiring: one Services object per process, shared by every request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import make_engine, make_sessionmaker
from meetgraph import log_redaction
from meetgraph.availability_events import SlotFeeds
from meetgraph.broadcast import Broadcast, make_broadcast
from meetgraph.crypto import CredentialCipher, previous_keys
from meetgraph.mail import Mailer
from meetgraph.settings import Settings
from meetgraph.single_flight import Memo, SingleFlight, Throttle
from providers.base import LoginGates
from providers.http import RetryPolicy
from providers.oauth import RefreshLocks

if TYPE_CHECKING:
    from meetgraph.jobs import JobQueue
    from providers.exchange import ExchangeAccounts
    from providers.exchange.session import ExchangeRuntime

log = logging.getLogger("meetgraph")

Clock = Callable[[], datetime]

STORED_READS_KEPT = 512
"""Store reads (one calendar, one window) kept in memory per process."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _exchange_runtime(settings: Settings) -> ExchangeRuntime:
    from providers.exchange.session import ExchangeRuntime  # exchangelib is heavy: not imported with this module

    return ExchangeRuntime(
        threads=settings.exchange_threads,
        server_concurrency=settings.exchange_server_concurrency,
        connect_timeout=settings.exchange_connect_timeout_seconds,
    )


def _exchange_accounts(runtime: ExchangeRuntime) -> ExchangeAccounts:
    from providers.exchange import ExchangeAccounts

    return ExchangeAccounts(timeout=runtime.timeout)


class Events:
    """Hooks the app calls at notable moments; tests replace them to wait without sleeping."""

    def subscribed(self, user_id: object) -> None:
        """A bookingAttempts subscription is listening."""

    def slots_computed(self, key: object) -> None:
        """An availableSlotsChanged feed computed its slots (once per change, whatever its subscribers)."""

    def slots_feed_closed(self, key: object) -> None:
        """The last subscriber of an availableSlotsChanged feed left: its broadcast subscription is gone."""

    def live_read_joined(self, key: object, waiting: int) -> None:
        """A caller awaits a live provider read (`waiting` callers now share it, the one that started it included)."""

    def websocket_closed(self, client: str) -> None:
        """A WebSocket connection of this client address ended (it no longer counts against the address's cap)."""


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: CredentialCipher
    signer: URLSafeTimedSerializer
    broadcast: Broadcast
    mailer: Mailer
    http: httpx.AsyncClient = field(
        default_factory=lambda: httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0))
    )
    """One client for every provider call: connection reuse, and TLS set up once (not per request)."""
    clock: Clock = utcnow
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    refresh_locks: RefreshLocks = field(default_factory=RefreshLocks)
    events: Events = field(default_factory=Events)
    slot_feeds: SlotFeeds = field(default_factory=SlotFeeds)
    """The availableSlotsChanged feeds of this process, one per page and window."""
    exchange_runtime: ExchangeRuntime = field(init=False)
    """Where Exchange calls run: own bounded threads, a limit and a circuit breaker per EWS endpoint (settings)."""
    exchange_accounts: ExchangeAccounts = field(init=False)
    """Opened Exchange accounts (server version, auth type, sessions) reused across requests."""
    login_gates: LoginGates = field(default_factory=LoginGates)
    """Per connection and password: one sign-in leads, concurrent calls follow it; none after a refusal."""
    jobs: JobQueue = field(init=False)
    """The durable job queue (meetgraph/jobs.py); its kinds are registered by the wiring (meetgraph.app)."""
    live_reads: SingleFlight = field(init=False)
    """Concurrent live busy-time reads of the same calendars and window share one provider fetch."""
    sync_requests: Throttle = field(default_factory=Throttle)
    """Syncs requested for never-synced calendars read live: at most one per calendar per poll interval."""
    stored_reads: Memo = field(default_factory=lambda: Memo(STORED_READS_KEPT))
    """Busy time read from the event store, by calendar, window and the calendar's sync version (synced_at,
    cursor, span): a page viewed again before the calendar's next sync does not re-read its events."""

    def __post_init__(self) -> None:
        from meetgraph.jobs import JobQueue

        self.jobs = JobQueue(self)
        self.live_reads = SingleFlight(joined=lambda key, waiting: self.events.live_read_joined(key, waiting))
        self.exchange_runtime = _exchange_runtime(self.settings)
        self.exchange_accounts = _exchange_accounts(self.exchange_runtime)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        retry: RetryPolicy | None = None,
        engine: AsyncEngine | None = None,
    ) -> Services:
        secret = settings.resolved_secret_key()
        previous = previous_keys(settings.secret_key_previous)
        log_redaction.install()
        engine = engine or make_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            cipher=CredentialCipher(secret, previous),
            # itsdangerous signs with the last key and verifies with any: states signed before a rotation
            # (they live minutes) still come back valid while the previous key is configured
            signer=URLSafeTimedSerializer([*reversed(previous), secret], salt="meetgraph-oauth-state"),
            broadcast=make_broadcast(settings.broadcast_url),
            mailer=Mailer(settings.smtp_url, settings.email_from, timeout=settings.smtp_timeout_seconds),
            clock=clock,
            retry=retry or RetryPolicy(),
        )

    async def drain(self) -> None:
        """Run every pending job to its end (tests that check effects, `meetgraph jobs run`)."""
        await self.jobs.drain()

    async def start(self) -> None:
        await self.broadcast.connect()
        await self._check_secret_keys()

    async def _check_secret_keys(self) -> None:
        from meetgraph.rotation import check_keys

        try:
            unreadable = await check_keys(self.sessionmaker, self.cipher)
        except SQLAlchemyError:
            return  # not migrated yet (tests, a first start): nothing stored to read
        if unreadable:
            log.error(
                "%d of the recently stored calendar credentials cannot be decrypted with MEETGRAPH_SECRET_KEY"
                " (nor MEETGRAPH_SECRET_KEY_PREVIOUS): their calendars will fail; configure the key they were"
                " written with (as MEETGRAPH_SECRET_KEY_PREVIOUS during a rotation)",
                unreadable,
            )

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.broadcast.disconnect()
        await self.http.aclose()
        await asyncio.get_running_loop().run_in_executor(self.exchange_runtime.executor, self.exchange_accounts.close)
        self.exchange_runtime.close()
        await self.engine.dispose()
