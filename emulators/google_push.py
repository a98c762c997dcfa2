"""Google Calendar push notifications: watch channels on a calendar's events and the messages they send.

As Google documents it (developers.google.com/calendar/api/guides/push): a channel is opened with events.watch and
answered with its resourceId and expiration; a `sync` message follows at once, then an `exists` message for every
change of an event in the watched calendar, each a POST with no body and the X-Goog-* headers. Google coalesces
nothing reliably (several changes may give several messages) and retries answers 500, 502, 503 and 504 with
exponential backoff. Expired or stopped channels send nothing.

The address's https origin is rewritten through `EmulatorState.push_routes` (the TLS proxy in front of the app);
an origin without a route is unreachable. Every attempt is recorded in `deliveries`.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx

from emulators.google_wire import rfc1123
from emulators.state import EmulatedEvent, EmulatorState

RETRIED_STATUSES = frozenset({500, 502, 503, 504})


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    owner: str
    """The account that opened it (only it may stop it)."""
    address: str
    token: str | None
    expiration: datetime
    stopped: bool = False
    message_number: int = 0


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one message."""

    channel_id: str
    message_number: int
    resource_state: str
    attempt: int
    status: int | None
    """The receiver's HTTP status; None when nothing answered (see `error`)."""
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def resource_id_for(calendar_id: str) -> str:
    """Google's opaque id of the watched resource: one per calendar's events collection, the same for every channel."""
    return hashlib.sha256(f"events:{calendar_id}".encode()).hexdigest()[:27]


class GooglePush:
    """The channels of one emulator and their deliveries; fed by EmulatorState.change_listeners."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.channels: dict[str, Channel] = {}
        self.deliveries: list[Delivery] = []
        self.retry_attempts = 5
        """Attempts per message (the first included) while the receiver answers a retried status or nothing."""
        self.retry_base_seconds = 1.0
        """The first backoff; each retry waits twice as long as the one before (tests make it tiny)."""
        self.timeout_seconds = 10.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._changed = threading.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        state.change_listeners.append(self.event_changed)

    # channels -------------------------------------------------------------
    def open(self, channel: Channel) -> None:
        """Register the channel and send its `sync` message (called on the emulator's loop)."""
        self.loop = asyncio.get_running_loop()
        with self.state.lock:
            self.channels[channel.id] = channel
        self._send(channel, "sync")

    def live(self, channel: Channel) -> bool:
        return not channel.stopped and self.state.clock() < channel.expiration

    def stop(self, channel_id: str, resource_id: str, owner: str) -> bool:
        """Stop the caller's channel; False when there is none by that id and resourceId (or it is not live)."""
        with self.state.lock:
            channel = self.channels.get(channel_id)
            if (
                channel is None
                or channel.resource_id != resource_id
                or channel.owner != owner
                or not self.live(channel)
            ):
                return False
            channel.stopped = True
            return True

    def ttl(self, requested: timedelta | None) -> timedelta:
        cap: timedelta = self.state.google_channel_ttl
        return cap if requested is None or requested <= timedelta(0) else min(requested, cap)

    # notifications --------------------------------------------------------
    def event_changed(self, event: EmulatedEvent) -> None:
        """A change in any calendar (called in the changing thread): each live channel on the event's calendar
        gets an `exists` message, sent from the emulator's loop."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with self.state.lock:
            watching = [c for c in self.channels.values() if c.calendar_id == event.calendar_id and self.live(c)]
        if watching:
            loop.call_soon_threadsafe(self._send_all, watching)

    def _send_all(self, channels: list[Channel]) -> None:
        for channel in channels:
            self._send(channel, "exists")

    def _send(self, channel: Channel, resource_state: str) -> None:
        channel.message_number += 1
        task = asyncio.get_running_loop().create_task(self._deliver(channel, channel.message_number, resource_state))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _target(self, address: str) -> str | None:
        parts = urlsplit(address)
        base = self.state.push_routes.get(f"{parts.scheme}://{parts.netloc}")
        if base is None:
            return None
        rest = parts.path + (f"?{parts.query}" if parts.query else "")
        return base.rstrip("/") + rest

    async def _deliver(self, channel: Channel, number: int, resource_state: str) -> None:
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": rfc1123(channel.expiration),
            "X-Goog-Message-Number": str(number),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": resource_state,
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        target = self._target(channel.address)
        record: Callable[[int, int | None, str | None], None] = lambda attempt, status, error: self._record(
            Delivery(channel.id, number, resource_state, attempt, status, error, headers)
        )
        if target is None:
            record(1, None, "unreachable: no route to the address's host")
            return
        delay = self.retry_base_seconds
        client = self.client()
        for attempt in range(1, self.retry_attempts + 1):
            try:
                response = await client.post(target, headers=headers, content=b"")
            except httpx.HTTPError as exc:
                record(attempt, None, f"{type(exc).__name__}: {exc}")
            else:
                record(attempt, response.status_code, None)
                if response.status_code not in RETRIED_STATUSES:
                    return
            if attempt < self.retry_attempts:
                await asyncio.sleep(delay)
                delay *= 2

    def client(self) -> httpx.AsyncClient:
        """One client for every delivery (on the emulator's loop): a new one per message costs a TLS context."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_seconds)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _record(self, delivery: Delivery) -> None:
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float) -> list[Delivery]:
        """Block until `predicate(deliveries)` holds (or `timeout` seconds pass); a copy of the deliveries then."""
        with self._changed:
            self._changed.wait_for(lambda: predicate(self.deliveries), timeout)
            return list(self.deliveries)
