"""A scripted calendar provider for the sync engine's tests: a calendar whose events the test changes, answering
sync_events with full listings and deltas by change number, and watch channels it records. Patched in where
meetgraph.providers builds providers for the engine (provider_for)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from db.models import CalendarConnection
from meetgraph.services import Services
from providers.base import (
    BusyByCalendar,
    CalendarProvider,
    EventDraft,
    ProviderCalendar,
    SyncBatch,
    SyncCursorExpired,
    SyncedEvent,
    Watch,
)


def event(event_id: str, start: datetime, minutes: int = 30, *, blocks: bool = True, version: str = "1") -> SyncedEvent:
    return SyncedEvent(id=event_id, start=start, end=start + timedelta(minutes=minutes), blocks=blocks, version=version)


@dataclass
class Call:
    calendar_id: str
    cursor: str | None


@dataclass
class Script:
    """The provider's side: events per calendar, the change log deltas are cut from, what was asked of it."""

    clock: Callable[[], datetime]
    events: dict[str, dict[str, SyncedEvent]] = field(default_factory=dict)
    changes: list[tuple[int, str, str]] = field(default_factory=list)
    seq: int = 0
    sync_calls: list[Call] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    """Raised, one per call, by the next sync_events calls."""
    expired: set[str] = field(default_factory=set)
    """Cursors the provider no longer accepts (SyncCursorExpired)."""
    watch_failures: list[Exception] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)
    renewals: list[Watch] = field(default_factory=list)
    stopped: list[Watch] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    """The token each channel was opened with (what the provider sends back)."""
    channel_lifetime: timedelta = timedelta(days=7)
    gate: asyncio.Event | None = None
    """When set, sync_events waits for it (a sync held in flight)."""
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when a sync_events call has started."""
    detached: int = 0
    """Providers built from credentials alone."""
    renews_in_place: bool = False
    """Graph's way (same subscription, new expiry); else Google's (a new channel)."""

    def now(self) -> datetime:
        return self.clock()

    def put(self, calendar_id: str, synced: SyncedEvent) -> None:
        self.seq += 1
        self.events.setdefault(calendar_id, {})[synced.id] = synced
        self.changes.append((self.seq, calendar_id, synced.id))

    def remove(self, calendar_id: str, event_id: str) -> None:
        self.seq += 1
        self.events.get(calendar_id, {}).pop(event_id, None)
        self.changes.append((self.seq, calendar_id, event_id))

    def sync(self, calendar_id: str, cursor: str | None, start: datetime, end: datetime) -> SyncBatch:
        self.sync_calls.append(Call(calendar_id, cursor))
        if self.failures:
            raise self.failures.pop(0)
        if cursor in self.expired:
            raise SyncCursorExpired("410 Gone: the sync token is no longer valid")
        events = self.events.get(calendar_id, {})
        next_cursor = f"{calendar_id}@{self.seq}"
        if cursor is None:
            listed = [e for e in events.values() if e.start < end and e.end > start]
            return SyncBatch(
                changed=listed, removed=[], cursor=next_cursor, full=True, window_start=start, window_end=end
            )
        since = int(cursor.rsplit("@", 1)[1])
        touched = list(dict.fromkeys(i for seq, c, i in self.changes if seq > since and c == calendar_id))
        return SyncBatch(
            changed=[events[i] for i in touched if i in events],
            removed=[i for i in touched if i not in events],
            cursor=next_cursor,
            full=False,
        )

    def open_watch(self, channel_id: str, token: str) -> Watch:
        if self.watch_failures:
            raise self.watch_failures.pop(0)
        opened = Watch(
            channel_id=channel_id, resource_id=f"resource-{channel_id}", expires_at=self.now() + self.channel_lifetime
        )
        self.watches.append(opened)
        self.tokens[channel_id] = token
        return opened


class ScriptedProvider(CalendarProvider):
    def __init__(self, script: Script, connection: CalendarConnection | None) -> None:
        """`connection`: None for a provider built from credentials alone (stopping a gone connection's channels)."""
        self.script = script
        self.connection = connection

    async def account_email(self) -> str:
        assert self.connection is not None
        return self.connection.email

    async def list_calendars(self) -> list[ProviderCalendar]:
        raise AssertionError("the sync engine does not list calendars")

    async def get_busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> BusyByCalendar:
        raise AssertionError("the sync engine does not read busy time")

    async def create_event(self, calendar_id: str, draft: EventDraft) -> str:
        raise AssertionError("the sync engine writes no events")

    async def update_event(self, calendar_id: str, event_id: str, draft: EventDraft) -> None:
        raise AssertionError("the sync engine writes no events")

    async def delete_event(self, calendar_id: str, event_id: str) -> None:
        raise AssertionError("the sync engine writes no events")

    async def create_calendar(self, name: str) -> ProviderCalendar:
        raise AssertionError("the sync engine creates no calendars")

    async def sync_events(
        self, calendar_id: str, cursor: str | None, window_start: datetime, window_end: datetime
    ) -> SyncBatch:
        self.script.entered.set()
        if self.script.gate is not None:
            await self.script.gate.wait()
        return self.script.sync(calendar_id, cursor, window_start, window_end)

    async def watch(self, calendar_id: str, *, channel_id: str, address: str, token: str) -> Watch:
        return self.script.open_watch(channel_id, token)

    async def renew_watch(self, calendar_id: str, old: Watch, *, channel_id: str, address: str, token: str) -> Watch:
        if self.script.watch_failures:
            raise self.script.watch_failures.pop(0)
        self.script.renewals.append(old)
        if self.script.renews_in_place:
            return Watch(old.channel_id, old.resource_id, self.script.now() + self.script.channel_lifetime)
        return self.script.open_watch(channel_id, token)

    async def stop_watch(self, watch: Watch) -> None:
        self.script.stopped.append(watch)


Factory = Callable[..., AbstractAsyncContextManager[CalendarProvider]]


def scripted_factory(script: Script) -> Factory:
    @asynccontextmanager
    async def provider_for(
        connection: CalendarConnection, services: Services, primary_calendar_id: str | None = None
    ) -> AsyncIterator[CalendarProvider]:
        yield ScriptedProvider(script, connection)

    return provider_for


def scripted_oauth_factory(script: Script) -> Callable[..., CalendarProvider]:
    """meetgraph.providers.oauth_provider's stand-in (the engine builds one from credentials alone)."""

    def oauth_provider(*args: object, **kwargs: object) -> CalendarProvider:
        script.detached += 1
        return ScriptedProvider(script, None)

    return oauth_provider
