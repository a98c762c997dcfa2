"""Calendar sync: keeps the event store (db.models.CalendarEvent) current for every primary and availability
calendar, by push (Google watch channels, Graph subscriptions) where the provider and deployment allow, by
polling otherwise and as a safety net. Every piece of work is a durable job (meetgraph.jobs).

Coalescing: a sync job is enqueued under the key `calendar.sync:<calendar id>` and gives the key up as soon as it
starts running, so however many notifications arrive, a calendar has at most one sync waiting (holding the key)
beside the one running. Two syncs of one calendar that do overlap (two workers) cannot both apply: the store
transaction moves the cursor with a conditional update on the cursor the sync started from, and the loser retries
from the new one."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import begin_write
from db.models import (
    Calendar,
    CalendarConnection,
    CalendarEvent,
    ConnectionStatus,
    InactiveReason,
    Job,
    JobState,
    PushChannel,
    SyncMode,
)
from meetgraph import jobs
from meetgraph import providers as factory
from meetgraph.availability_events import availability_changed
from meetgraph.failpoints import SYNC_BEFORE_COMMIT, failpoint
from providers.base import (
    CalendarAccessLost,
    CalendarProvider,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    PushUnsupported,
    SyncBatch,
    SyncCursorExpired,
    SyncedEvent,
    UnsupportedOperation,
    Watch,
)
from providers.oauth import MemoryTokenStore, OAuthToken
from scheduling.calendars import ProviderKind
from scheduling.sync_rules import needs_new_window, sync_window

if TYPE_CHECKING:
    from meetgraph.services import Services

log = logging.getLogger("meetgraph.sync")

SYNC_CALENDAR = "calendar.sync"
"""Bring one calendar's store up to date (payload: calendar_id; full: bool)."""
WATCH_CALENDAR = "calendar.watch"
"""Open a push channel for one calendar (payload: calendar_id)."""
RENEW_CHANNEL = "calendar.renew_channel"
"""Extend a push channel before the expiry the provider answered (payload: channel_id, expires_at)."""
STOP_CHANNELS = "calendar.stop_channels"
"""Stop push channels at the provider (payload: provider, connection_id, credentials, channels); carries the
connection's encrypted credentials, as the connection row may be gone by the time it runs."""

PUSH_PROVIDERS = frozenset({ProviderKind.GOOGLE.value, ProviderKind.OFFICE365.value})
WEBHOOK_PATHS = {ProviderKind.GOOGLE.value: "/webhooks/google", ProviderKind.OFFICE365.value: "/webhooks/microsoft"}
PUSH_RETRY_AFTER = timedelta(days=1)
"""A calendar whose provider refused push is asked again after this long (or after a reconnect)."""
UPSERT_CHUNK = 400
"""Rows per INSERT … ON CONFLICT: 14 values each stays below asyncpg's 32,767 parameters."""
MAX_POLL_ROUND_SECONDS = 60.0
NO_SYNC = "this calendar service offers no sync"
"""The sync_error of a calendar left LIVE because its provider cannot sync: not polled again (a reconnect asks)."""


def sync_key(calendar_id: uuid.UUID) -> str:
    return f"{SYNC_CALENDAR}:{calendar_id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# -- enqueueing ---------------------------------------------------------------------------------------------


async def _enqueue_coalesced(
    session: AsyncSession, kind: str, key: str, payload: jobs.Payload, *, now: datetime, full: bool = False
) -> uuid.UUID | None:
    """Enqueue under `key` unless a job waits under it already; a waiting sync asked for a full one becomes full."""
    job_id = await jobs.enqueue(session, kind, payload, now=now, key=key, max_attempts=8)
    if job_id is None and full:
        await session.execute(
            update(Job)
            .where(col(Job.key) == key, col(Job.state) == JobState.PENDING)
            .values(payload={**payload, "full": True})
        )
    return job_id


async def enqueue_sync(session: AsyncSession, calendar_id: uuid.UUID, *, now: datetime, full: bool = False) -> None:
    """Add a sync of the calendar to the caller's transaction (coalesced with one already waiting)."""
    payload = {"calendar_id": str(calendar_id), "full": full}
    await _enqueue_coalesced(session, SYNC_CALENDAR, sync_key(calendar_id), payload, now=now, full=full)


async def request_sync(services: Services, calendar_ids: Sequence[uuid.UUID], *, full: bool = False) -> None:
    """Enqueue syncs of the calendars in a transaction of their own, and wake the workers."""
    if not calendar_ids:
        return
    async with services.sessionmaker() as session:
        await begin_write(session)
        for calendar_id in calendar_ids:
            await enqueue_sync(session, calendar_id, now=services.clock(), full=full)
        await session.commit()
    services.jobs.kick()


async def enqueue_connection_syncs(session: AsyncSession, connection_id: uuid.UUID, *, now: datetime) -> None:
    """Syncs of a (new or reconnected) connection's primary and availability calendars, in the caller's
    transaction (the calendars must be flushed)."""
    rows = await session.exec(
        select(Calendar.id).where(
            col(Calendar.connection_id) == connection_id, col(Calendar.is_primary) | col(Calendar.is_availability)
        )
    )
    for calendar_id in rows.all():
        await enqueue_sync(session, calendar_id, now=now)


async def _release(services: Services, key: str) -> None:
    """A started job gives up its coalescing key, so that a change notified from now on enqueues another run."""
    async with services.sessionmaker() as session:
        await begin_write(session)
        await session.execute(
            update(Job).where(col(Job.key) == key, col(Job.state) == JobState.RUNNING).values(key=None)
        )
        await session.commit()


async def enqueue_renewal(session: AsyncSession, services: Services, channel: PushChannel, *, at_once: bool) -> bool:
    """The channel's renewal, due `sync_renew_before_seconds` before its answered expiry (or now); False when
    one was enqueued for that expiry already."""
    now = services.clock()
    expires_at = _aware(channel.expires_at)
    key = f"{RENEW_CHANNEL}:{channel.channel_id}:{expires_at.isoformat()}"
    due = expires_at - timedelta(seconds=services.settings.sync_renew_before_seconds)
    delay = timedelta(0) if at_once else max(due - now, timedelta(0))
    payload = {"channel_id": channel.channel_id, "expires_at": expires_at.isoformat()}
    created = await jobs.enqueue(session, RENEW_CHANNEL, payload, now=now, key=key, delay=delay, max_attempts=8)
    if created is None and at_once:
        await session.execute(
            update(Job).where(col(Job.key) == key, col(Job.state) == JobState.PENDING).values(run_at=now)
        )
    return created is not None


async def enqueue_watch(session: AsyncSession, calendar_id: uuid.UUID, *, now: datetime, reason: str) -> None:
    """A watch job; `reason` names the occasion, so that each occasion asks once (a refusal is asked again the
    next day, the day being part of the routine occasion)."""
    key = f"{WATCH_CALENDAR}:{calendar_id}:{reason}"
    await jobs.enqueue(session, WATCH_CALENDAR, {"calendar_id": str(calendar_id)}, now=now, key=key)


def _routine_watch_reason(now: datetime) -> str:
    return f"day-{now.date().isoformat()}"


def push_address(services: Services, provider: str) -> str | None:
    """Where the provider is to notify us, or None where push cannot be set up (no https PUBLIC_URL)."""
    public_url = services.settings.public_url.rstrip("/")
    if provider not in PUSH_PROVIDERS or not public_url.lower().startswith("https://"):
        return None
    return public_url + WEBHOOK_PATHS[provider]


async def stop_channels(
    session: AsyncSession,
    services: Services,
    connection: CalendarConnection,
    channels: Sequence[PushChannel],
    *,
    now: datetime,
) -> None:
    """Delete the channels' rows (their notifications are refused from now on) and enqueue stopping them at the
    provider with what that needs, in the caller's transaction."""
    if not channels:
        return
    payload = {
        "provider": connection.provider,
        "connection_id": str(connection.id),
        "credentials": connection.credentials,
        "channels": [
            {"channel_id": c.channel_id, "resource_id": c.resource_id, "expires_at": _aware(c.expires_at).isoformat()}
            for c in channels
        ],
    }
    await jobs.enqueue(session, STOP_CHANNELS, payload, now=now, max_attempts=5)
    await session.execute(delete(PushChannel).where(col(PushChannel.id).in_([c.id for c in channels])))


async def stop_connection_sync(session: AsyncSession, services: Services, connection: CalendarConnection) -> None:
    """A connection being removed (in the caller's transaction): its channels are stopped by a job; its calendars
    and their stored events go with the connection row (cascade)."""
    channels = (await session.exec(select(PushChannel).where(col(PushChannel.connection_id) == connection.id))).all()
    await stop_channels(session, services, connection, list(channels), now=services.clock())


async def stop_calendar_sync(
    session: AsyncSession, services: Services, calendar: Calendar, connection: CalendarConnection
) -> None:
    """A calendar no longer primary nor availability: its channels stopped, its store emptied, its sync state
    forgotten (a later choice of it starts with a full sync), in the caller's transaction."""
    channels = (await session.exec(select(PushChannel).where(col(PushChannel.calendar_id) == calendar.id))).all()
    await stop_channels(session, services, connection, list(channels), now=services.clock())
    await session.execute(delete(CalendarEvent).where(col(CalendarEvent.calendar_id) == calendar.id))
    await session.execute(
        update(Calendar)
        .where(col(Calendar.id) == calendar.id)
        .values(
            sync_mode=SyncMode.LIVE,
            synced_at=None,
            sync_cursor=None,
            sync_window_start=None,
            sync_window_end=None,
            sync_error=None,
        )
    )


async def availability_calendars_changed(
    session: AsyncSession, services: Services, before: dict[uuid.UUID, bool], calendars: Iterable[Calendar]
) -> None:
    """After a settings save changed `is_availability` (before: the old values by calendar id): newly chosen
    calendars are synced, dropped ones stop syncing."""
    now = services.clock()
    for calendar in calendars:
        was = before.get(calendar.id, False) or calendar.is_primary
        now_synced = calendar.is_availability or calendar.is_primary
        if now_synced and not was:
            await enqueue_sync(session, calendar.id, now=now)
        elif was and not now_synced:
            connection = await session.get(CalendarConnection, calendar.connection_id)
            if connection is not None:
                await stop_calendar_sync(session, services, calendar, connection)


# -- the sync job -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    calendar: Calendar
    connection: CalendarConnection
    primary_provider_id: str | None


async def _load(services: Services, calendar_id: uuid.UUID) -> _Loaded | None:
    """The calendar and its connection when the calendar is to be synced, else None."""
    async with services.sessionmaker() as session:
        calendar = await session.get(Calendar, calendar_id)
        if calendar is None or not (calendar.is_primary or calendar.is_availability):
            return None
        connection = await session.get(CalendarConnection, calendar.connection_id)
        if connection is None or connection.status is ConnectionStatus.INACTIVE:
            return None
        primary = (
            await session.exec(
                select(Calendar.provider_calendar_id).where(
                    col(Calendar.connection_id) == connection.id, col(Calendar.is_primary)
                )
            )
        ).first()
    return _Loaded(calendar, connection, primary)


async def _record_error(services: Services, calendar_id: uuid.UUID, message: str, **values: Any) -> None:
    async with services.sessionmaker() as session:
        await begin_write(session)
        await session.execute(
            update(Calendar).where(col(Calendar.id) == calendar_id).values(sync_error=message[:500], **values)
        )
        await session.commit()


async def _fetch(
    provider: CalendarProvider, calendar: Calendar, *, full: bool, now: datetime, window_days: int
) -> SyncBatch:
    start, end = sync_window(now, window_days)
    if not full:
        try:
            return await provider.sync_events(calendar.provider_calendar_id, calendar.sync_cursor, start, end)
        except SyncCursorExpired:
            log.info("sync cursor of calendar %s expired: full sync", calendar.id)
    batch = await provider.sync_events(calendar.provider_calendar_id, None, start, end)
    if batch.full and batch.window_start is None:
        batch.window_start, batch.window_end = start, end
    return batch


async def run_sync(services: Services, payload: jobs.Payload) -> jobs.Finish | None:
    calendar_id = uuid.UUID(payload["calendar_id"])
    await _release(services, sync_key(calendar_id))
    loaded = await _load(services, calendar_id)
    if loaded is None:
        return None
    calendar, connection = loaded.calendar, loaded.connection
    now = services.clock()
    full = (
        bool(payload.get("full"))
        or calendar.sync_cursor is None
        or needs_new_window(calendar.sync_window_start, calendar.sync_window_end, now)
    )
    try:
        async with factory.provider_for(connection, services, loaded.primary_provider_id) as provider:
            batch = await _fetch(provider, calendar, full=full, now=now, window_days=services.settings.sync_window_days)
    except UnsupportedOperation:
        await _record_error(services, calendar.id, NO_SYNC, sync_mode=SyncMode.LIVE)
        return None
    except CalendarAccessLost as exc:
        await _access_lost(services, calendar, exc)
        return None
    except factory.ConnectionInactive:
        return None
    except ProviderAuthError as exc:
        await _auth_refused(services, connection, exc)
        return None
    except ProviderRateLimited as exc:
        await _record_error(services, calendar.id, exc.message)
        raise jobs.Retry(exc.message, delay=exc.retry_after) from exc
    except ProviderError as exc:
        await _record_error(services, calendar.id, exc.message)
        raise jobs.Retry(exc.message) from exc
    changed = await apply_batch(services, calendar, connection, batch, now=now)
    if changed:
        await availability_changed(services, connection.user_id)
    services.jobs.kick()
    return None


async def _access_lost(services: Services, calendar: Calendar, exc: CalendarAccessLost) -> None:
    """The calendar INACTIVE, as a live read that finds it unreadable makes it (resolvers.availability)."""
    await _record_error(services, calendar.id, exc.message, status=ConnectionStatus.INACTIVE)
    if calendar.status is ConnectionStatus.ACTIVE:
        async with services.sessionmaker() as session:
            connection = await session.get(CalendarConnection, calendar.connection_id)
        if connection is not None:
            await availability_changed(services, connection.user_id)


async def _auth_refused(services: Services, connection: CalendarConnection, exc: ProviderAuthError) -> None:
    """The connection INACTIVE as a live read makes it: a refused Exchange password (the gate did it already,
    unless the owner re-entered it since), a revoked OAuth grant."""
    if connection.provider == ProviderKind.EXCHANGE.value:
        await factory.deactivate(services, connection.id, factory.refusal_reason(exc), refused=connection.credentials)
    else:
        await factory.deactivate(services, connection.id, InactiveReason.ACCESS_REVOKED)


def _row(calendar_id: uuid.UUID, event: SyncedEvent, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "calendar_id": calendar_id,
        "provider_event_id": event.id[:1024],
        "start": _aware(event.start).astimezone(UTC),
        "end": _aware(event.end).astimezone(UTC),
        "blocks": event.blocks,
        "status": event.status[:32],
        "summary": event.summary[:500],
        "organizer_email": event.organizer_email[:254] if event.organizer_email else None,
        "organized_by_account": event.organized_by_account,
        "attendees": [{"email": a.email, "name": a.name} for a in event.attendees],
        "version": event.version[:200] if event.version else None,
        "meetgraph_key": event.key[:200] if event.key else None,
        "from_integration": event.from_integration,
        "series_id": event.series_id[:1024] if event.series_id else None,
        "updated_at": now,
    }


_COMPARED = (
    "start",
    "end",
    "blocks",
    "status",
    "summary",
    "organizer_email",
    "organized_by_account",
    "attendees",
    "version",
    "meetgraph_key",
    "from_integration",
    "series_id",
)
_UPDATED = (*_COMPARED, "updated_at")


def _fingerprint(values: Sequence[Any]) -> tuple[Any, ...]:
    """The compared columns' values, in _COMPARED's order, comparable between a stored row and an incoming one."""
    return tuple(_aware(v) if isinstance(v, datetime) else v for v in values)


EVENTS = CalendarEvent.__table__  # type: ignore[attr-defined]
_COMPARED_COLUMNS = [EVENTS.c[name] for name in _COMPARED]


async def _upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert or update the rows with one executemany per chunk (Core, not ORM: 3,000 events well under a second)."""
    if not rows:
        return
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(EVENTS)
    statement = statement.on_conflict_do_update(
        index_elements=["calendar_id", "provider_event_id"],
        set_={name: statement.excluded[name] for name in _UPDATED},
    )
    for at in range(0, len(rows), UPSERT_CHUNK):
        await session.execute(statement, rows[at : at + UPSERT_CHUNK])


async def _delete_events(session: AsyncSession, calendar_id: uuid.UUID, provider_ids: Sequence[str]) -> None:
    for at in range(0, len(provider_ids), UPSERT_CHUNK):
        await session.execute(
            delete(CalendarEvent).where(
                col(CalendarEvent.calendar_id) == calendar_id,
                col(CalendarEvent.provider_event_id).in_(provider_ids[at : at + UPSERT_CHUNK]),
            )
        )


class CursorMoved(jobs.Retry):
    """Another sync of the calendar applied first: this one starts again from the cursor that one left."""


async def apply_batch(
    services: Services, calendar: Calendar, connection: CalendarConnection, batch: SyncBatch, *, now: datetime
) -> bool:
    """Apply a batch to the store in one transaction, with two-way sync and the calendar's sync state; True when
    the store, the calendar's status or a meeting changed (availability may have)."""
    from resolvers import two_way
    from resolvers.availability import carry_stored_reads, stored_version

    version_before = stored_version(calendar)
    async with services.sessionmaker() as session:
        await begin_write(session)
        previous = calendar.sync_cursor
        values: dict[str, Any] = {
            "sync_cursor": batch.cursor,
            "synced_at": now,
            "sync_error": None,
            "status": ConnectionStatus.ACTIVE,
        }
        if calendar.sync_mode is SyncMode.LIVE:
            values["sync_mode"] = SyncMode.POLL
        if batch.full:
            values["sync_window_start"] = batch.window_start
            values["sync_window_end"] = batch.window_end
        same_cursor = col(Calendar.sync_cursor).is_(None) if previous is None else col(Calendar.sync_cursor) == previous
        # and the same synced_at: a sync that applied meanwhile with an unchanged cursor moved it too, and the
        # store reads kept for the version this one started from (carried below) would no longer hold
        same_sync = (
            col(Calendar.synced_at).is_(None)
            if calendar.synced_at is None
            else col(Calendar.synced_at) == calendar.synced_at
        )
        moved = await session.execute(
            update(Calendar).where(col(Calendar.id) == calendar.id, same_cursor, same_sync).values(**values)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            raise CursorMoved("another sync of this calendar applied first", delay=0)
        incoming = {event.id[:1024]: _row(calendar.id, event, now) for event in batch.changed}
        stored_query = select(EVENTS.c.provider_event_id, *_COMPARED_COLUMNS).where(EVENTS.c.calendar_id == calendar.id)
        if not batch.full:
            stored_query = stored_query.where(EVENTS.c.provider_event_id.in_(list(incoming) + list(batch.removed)))
        stored = {row[0]: _fingerprint(row[1:]) for row in (await session.execute(stored_query)).all()}
        if batch.full:
            removed = [provider_id for provider_id in stored if provider_id not in incoming]
        else:
            removed = [provider_id for provider_id in dict.fromkeys(batch.removed) if provider_id not in incoming]
        dirty = [
            row
            for provider_id, row in incoming.items()
            if stored.get(provider_id) != _fingerprint([row[name] for name in _COMPARED])
        ]
        await _upsert(session, dirty)
        gone = [provider_id for provider_id in removed if provider_id in stored]
        await _delete_events(session, calendar.id, gone)
        meetings_changed = await two_way.apply_calendar_changes(
            session, services, calendar, connection, batch.changed, removed, now=now
        )
        address = push_address(services, connection.provider)
        if address is not None:
            live = (
                await session.exec(
                    select(PushChannel.id).where(
                        col(PushChannel.calendar_id) == calendar.id, col(PushChannel.expires_at) > now
                    )
                )
            ).first()
            if live is None:
                await enqueue_watch(session, calendar.id, now=now, reason=_routine_watch_reason(now))
        failpoint(SYNC_BEFORE_COMMIT)
        await session.commit()
    if not dirty and not gone:
        window = (
            values.get("sync_window_start", calendar.sync_window_start),
            values.get("sync_window_end", calendar.sync_window_end),
        )
        carry_stored_reads(services, version_before, (calendar.id, now, batch.cursor, *window))
    reactivated = calendar.status is ConnectionStatus.INACTIVE
    return bool(dirty or gone or meetings_changed or reactivated)


# -- push channels ------------------------------------------------------------------------------------------


async def run_watch(services: Services, payload: jobs.Payload) -> jobs.Finish | None:
    calendar_id = uuid.UUID(payload["calendar_id"])
    loaded = await _load(services, calendar_id)
    if loaded is None:
        return None
    calendar, connection = loaded.calendar, loaded.connection
    address = push_address(services, connection.provider)
    if address is None:
        return None
    now = services.clock()
    async with services.sessionmaker() as session:
        live = (
            await session.exec(
                select(PushChannel.id).where(
                    col(PushChannel.calendar_id) == calendar.id, col(PushChannel.expires_at) > now
                )
            )
        ).first()
    if live is not None:
        return None
    asked = await _ask_for_channel(
        services,
        loaded,
        now,
        lambda provider, channel_id, token: provider.watch(
            calendar.provider_calendar_id, channel_id=channel_id, address=address, token=token
        ),
    )
    if asked is None:
        return None
    watch, opening, token = asked
    async with services.sessionmaker() as session:
        await begin_write(session)
        channel = await _store_answered(session, opening, loaded, watch, token, now)
        await session.execute(
            update(Calendar)
            .where(col(Calendar.id) == calendar.id, col(Calendar.sync_mode) != SyncMode.LIVE)
            .values(sync_mode=SyncMode.PUSH)
        )
        await session.flush()
        await enqueue_renewal(session, services, channel, at_once=False)
        # a change made after the last sync read the calendar and before the channel opened is never notified:
        # one incremental sync from now on picks it up (a PUSH store is trusted for the safety net's span)
        await enqueue_sync(session, calendar.id, now=now)
        await session.commit()
    services.jobs.kick()
    log.info("push channel %s for calendar %s until %s", watch.channel_id, calendar.id, watch.expires_at)
    return None


async def _ask_for_channel(
    services: Services,
    loaded: _Loaded,
    now: datetime,
    ask: Callable[[CalendarProvider, str, str], Awaitable[Watch]],
) -> tuple[Watch, uuid.UUID, str] | None:
    """Ask the provider for a channel (`ask(provider, channel_id, token)`: a watch or a renewal) with a fresh id
    and token, its row committed first; the answer, that row's id and the token, or None when the provider will
    not push (the calendar is then POLLed) or cannot be asked now. Transient failures raise Retry."""
    calendar, connection = loaded.calendar, loaded.connection
    token = secrets.token_urlsafe(32)
    channel_id = str(uuid.uuid4())
    # The row exists (not yet live: expiring now) before the provider is asked, so that what the provider sends
    # while it answers (Google's `sync` message) finds its channel and token, and a crash after the provider
    # accepted leaves a channel we recognise rather than one answered 404 until it expires.
    opening = await _open_channel_row(services, calendar, connection, channel_id, token, now)
    try:
        async with factory.provider_for(connection, services, loaded.primary_provider_id) as provider:
            return await ask(provider, channel_id, token), opening, token
    except PushUnsupported as exc:
        await _drop_channel_row(services, opening)
        log.info("push refused for calendar %s (%s): polled", calendar.id, exc.message)
        await _set_mode(services, calendar.id, SyncMode.POLL)
        return None
    except (CalendarAccessLost, ProviderAuthError, UnsupportedOperation) as exc:
        await _drop_channel_row(services, opening)
        log.info("no push channel for calendar %s: %s", calendar.id, exc.message)
        return None
    except ProviderError as exc:
        await _drop_channel_row(services, opening)
        raise jobs.Retry(exc.message) from exc


async def _store_answered(
    session: AsyncSession, opening: uuid.UUID, loaded: _Loaded, watch: Watch, token: str, now: datetime
) -> PushChannel:
    """The channel row `_ask_for_channel` opened, now with what the provider answered (flushed). Written afresh if
    it went meanwhile (a disconnect stopped the calendar's channels: this one is stopped with the connection)."""
    channel = await session.get(PushChannel, opening) or PushChannel(
        calendar_id=loaded.calendar.id,
        connection_id=loaded.connection.id,
        provider=loaded.connection.provider,
        channel_id=watch.channel_id,
        token_hash=token_hash(token),
        expires_at=watch.expires_at,
        created_at=now,
    )
    channel.channel_id = watch.channel_id
    channel.resource_id = watch.resource_id
    channel.expires_at = watch.expires_at
    session.add(channel)
    await session.flush()
    return channel


async def _open_channel_row(
    services: Services,
    calendar: Calendar,
    connection: CalendarConnection,
    channel_id: str,
    token: str,
    now: datetime,
) -> uuid.UUID:
    """A channel row for a watch about to be asked, committed, not live yet (it expires now)."""
    async with services.sessionmaker() as session:
        await begin_write(session)
        channel = PushChannel(
            calendar_id=calendar.id,
            connection_id=connection.id,
            provider=connection.provider,
            channel_id=channel_id,
            token_hash=token_hash(token),
            expires_at=now,
            created_at=now,
        )
        session.add(channel)
        await session.commit()
        return channel.id


async def _drop_channel_row(services: Services, channel_row: uuid.UUID) -> None:
    async with services.sessionmaker() as session:
        await begin_write(session)
        await session.execute(delete(PushChannel).where(col(PushChannel.id) == channel_row))
        await session.commit()


async def _set_mode(services: Services, calendar_id: uuid.UUID, mode: SyncMode) -> None:
    async with services.sessionmaker() as session:
        await begin_write(session)
        await session.execute(update(Calendar).where(col(Calendar.id) == calendar_id).values(sync_mode=mode))
        await session.commit()


def _watch_of(channel: PushChannel) -> Watch:
    return Watch(channel_id=channel.channel_id, resource_id=channel.resource_id, expires_at=_aware(channel.expires_at))


async def run_renew(services: Services, payload: jobs.Payload) -> jobs.Finish | None:
    """Renew a channel: Graph extends it in place (same id: new expiry); Google opens a new channel, whose row
    replaces the old one, and the old is stopped by a job. A channel renewed meanwhile is left alone."""
    async with services.sessionmaker() as session:
        channel = (
            await session.exec(select(PushChannel).where(col(PushChannel.channel_id) == payload["channel_id"]))
        ).first()
        if channel is None or channel.calendar_id is None:
            return None
        if _aware(channel.expires_at).isoformat() != payload["expires_at"]:
            return None
    loaded = await _load(services, channel.calendar_id)
    if loaded is None:
        return None
    calendar, connection = loaded.calendar, loaded.connection
    address = push_address(services, connection.provider)
    if address is None:
        return None
    now = services.clock()
    old = _watch_of(channel)
    asked = await _ask_for_channel(
        services,
        loaded,
        now,
        lambda provider, channel_id, token: provider.renew_watch(
            calendar.provider_calendar_id, old, channel_id=channel_id, address=address, token=token
        ),
    )
    if asked is None:
        return None
    renewed, opening, token = asked
    async with services.sessionmaker() as session:
        await begin_write(session)
        if renewed.channel_id == channel.channel_id:
            await session.execute(delete(PushChannel).where(col(PushChannel.id) == opening))
            # extended in place: the provider keeps the token it was opened with
            await session.execute(
                update(PushChannel).where(col(PushChannel.id) == channel.id).values(expires_at=renewed.expires_at)
            )
            channel.expires_at = renewed.expires_at
            await enqueue_renewal(session, services, channel, at_once=False)
        else:
            fresh = await _store_answered(session, opening, loaded, renewed, token, now)
            await enqueue_renewal(session, services, fresh, at_once=False)
            await stop_channels(session, services, connection, [channel], now=now)
        await session.execute(
            update(Calendar)
            .where(col(Calendar.id) == calendar.id, col(Calendar.sync_mode) == SyncMode.POLL)
            .values(sync_mode=SyncMode.PUSH)
        )
        await session.commit()
    services.jobs.kick()
    return None


async def run_stop_channels(services: Services, payload: jobs.Payload) -> jobs.Finish | None:
    """Stop channels with the credentials carried in the payload: the connection row may be gone, so its token
    lives in memory for this job (a refresh is not stored anywhere)."""
    kind = ProviderKind(payload["provider"])
    token = OAuthToken.from_dict(services.cipher.decrypt(payload["credentials"]))
    watches = [
        Watch(
            channel_id=c["channel_id"], resource_id=c["resource_id"], expires_at=datetime.fromisoformat(c["expires_at"])
        )
        for c in payload["channels"]
    ]
    now = services.clock()
    provider = factory.oauth_provider(
        kind, token, MemoryTokenStore(token), services, lock_key=f"stop-channels:{payload['connection_id']}"
    )
    try:
        for watch in watches:
            if watch.expires_at > now:
                await provider.stop_watch(watch)
    except (ProviderAuthError, CalendarAccessLost, UnsupportedOperation) as exc:
        log.info("push channels not stopped (%s): they end at their expiry", exc.message)
    except ProviderError as exc:
        raise jobs.Retry(exc.message) from exc
    finally:
        await provider.aclose()
    return None


# -- polling --------------------------------------------------------------------------------------------------


async def poll_due(services: Services) -> int:
    """One polling round: syncs for calendars whose store is due (POLL: older than the poll interval; PUSH:
    older than the safety net; LIVE never synced: the first sync, unless the provider offers no sync), renewals of channels due and not scheduled,
    a watch for PUSH calendars whose channels all expired (polled meanwhile). Returns the jobs enqueued.

    Every process with workers runs it; job keys make one job per calendar (or channel expiry) of a round."""
    now = services.clock()
    settings = services.settings
    poll_before = now - timedelta(seconds=settings.sync_poll_seconds)
    safety_before = now - timedelta(seconds=settings.sync_safety_net_seconds)
    renew_until = now + timedelta(seconds=settings.sync_renew_before_seconds)
    enqueued = 0
    async with services.sessionmaker() as session:
        await begin_write(session)
        due = await session.exec(
            select(Calendar.id)
            .join(CalendarConnection, col(CalendarConnection.id) == Calendar.connection_id)
            .where(
                col(CalendarConnection.status) == ConnectionStatus.ACTIVE,
                col(Calendar.is_primary) | col(Calendar.is_availability),
                or_(
                    and_(
                        col(Calendar.sync_mode) == SyncMode.POLL,
                        or_(col(Calendar.synced_at).is_(None), col(Calendar.synced_at) <= poll_before),
                    ),
                    and_(
                        col(Calendar.sync_mode) == SyncMode.PUSH,
                        or_(col(Calendar.synced_at).is_(None), col(Calendar.synced_at) <= safety_before),
                    ),
                    and_(
                        col(Calendar.sync_mode) == SyncMode.LIVE,
                        col(Calendar.synced_at).is_(None),
                        or_(col(Calendar.sync_error).is_(None), col(Calendar.sync_error) != NO_SYNC),
                    ),
                ),
            )
        )
        for calendar_id in due.all():
            payload = {"calendar_id": str(calendar_id), "full": False}
            if await _enqueue_coalesced(session, SYNC_CALENDAR, sync_key(calendar_id), payload, now=now):
                enqueued += 1
        renewals = await session.exec(
            select(PushChannel).where(
                col(PushChannel.calendar_id).is_not(None),
                col(PushChannel.expires_at) > now,
                col(PushChannel.expires_at) <= renew_until,
            )
        )
        for channel in renewals.all():
            enqueued += await enqueue_renewal(session, services, channel, at_once=False)
        enqueued += await _expired_push(session, now)
        await session.commit()
    if enqueued:
        services.jobs.kick()
    return enqueued


async def _expired_push(session: AsyncSession, now: datetime) -> int:
    """PUSH calendars left without a live channel (renewal failed until expiry): POLL, and a new watch."""
    live = select(PushChannel.calendar_id).where(
        col(PushChannel.calendar_id).is_not(None), col(PushChannel.expires_at) > now
    )
    orphans = list(
        (
            await session.exec(
                select(Calendar.id).where(
                    col(Calendar.sync_mode) == SyncMode.PUSH, col(Calendar.id).not_in(live.scalar_subquery())
                )
            )
        ).all()
    )
    if not orphans:
        return 0
    await session.execute(update(Calendar).where(col(Calendar.id).in_(orphans)).values(sync_mode=SyncMode.POLL))
    expired = await session.exec(
        select(PushChannel).where(col(PushChannel.calendar_id).in_(orphans), col(PushChannel.expires_at) <= now)
    )
    for channel in expired.all():
        await session.delete(channel)
    for calendar_id in orphans:
        log.info("push channel of calendar %s expired: polled until a new one is open", calendar_id)
        await enqueue_watch(session, calendar_id, now=now, reason=f"expired-{now.isoformat()}")
    return len(orphans)


class Poller:
    """Runs poll_due every min(sync_poll_seconds, 60) seconds of the injected clock, in each process that runs
    workers (checking the clock every second of real time)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="meetgraph-sync-poller")

    async def _loop(self) -> None:
        interval = timedelta(seconds=min(self.services.settings.sync_poll_seconds, MAX_POLL_ROUND_SECONDS))
        next_round = self.services.clock()
        while True:
            if self.services.clock() >= next_round:
                next_round = self.services.clock() + interval
                try:
                    await poll_due(self.services)
                except Exception:
                    log.exception("a sync polling round failed; trying again next round")
            await asyncio.sleep(min(1.0, interval.total_seconds()))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


KINDS: dict[str, jobs.JobKind] = {
    SYNC_CALENDAR: jobs.JobKind(SYNC_CALENDAR, run_sync, max_backoff=300.0),
    WATCH_CALENDAR: jobs.JobKind(WATCH_CALENDAR, run_watch, max_backoff=600.0),
    RENEW_CHANNEL: jobs.JobKind(RENEW_CHANNEL, run_renew, max_backoff=300.0),
    STOP_CHANNELS: jobs.JobKind(STOP_CHANNELS, run_stop_channels),
}
