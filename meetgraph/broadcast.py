"""Pub/sub behind `broadcast_url`: in one process (`memory://`) or through Redis (`redis://`, `rediss://`).

    await broadcast.publish(channel=..., message="...")
    async with broadcast.subscribe(channel=...) as subscriber:
        async for event in subscriber:
            event.message

Every subscriber has its own bounded queue. One that falls `queue_limit` events behind (a slow WebSocket
client) is closed rather than dropping events silently: it is given what was queued, then its iteration
ends, and a bookingAttempts client resubscribes and catches up with the `bookingAttempts(last:)` query.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger("meetgraph.broadcast")

QUEUE_LIMIT = 100
RECONNECT_FIRST_DELAY = 0.05
RECONNECT_MAX_DELAY = 1.0
REDIS_TIMEOUT = 5.0
"""Bounds one PUBLISH or PING (connecting, writing, reading its reply); never the listener's wait."""


class BroadcastUnavailable(Exception):
    """The backend did not take a published message; the caller (a durable job) retries."""


@dataclass(frozen=True)
class Event:
    channel: str
    message: str
    gap: bool = False
    """Not a message: the subscription was re-established after the backend was lost, and what was
    published meanwhile did not arrive (the consumer catches up from its own store)."""


class Subscriber:
    """One local subscription: a bounded queue of events, iterated by its consumer."""

    def __init__(self, channel: str, limit: int) -> None:
        self.channel = channel
        self.limit = limit
        self.closed = False
        self.overflowed = False
        self._events: deque[Event] = deque()
        self._wakeup = asyncio.Event()

    def deliver(self, event: Event) -> None:
        if self.closed:
            return
        if len(self._events) >= self.limit:
            log.warning("a subscriber of %s fell %d events behind: closing it", self.channel, self.limit)
            self.overflowed = True
            self.close()
            return
        self._events.append(event)
        self._wakeup.set()

    def close(self) -> None:
        """End the iteration once the queued events are taken."""
        self.closed = True
        self._wakeup.set()

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event:
        while not self._events:
            if self.closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._events.popleft()


class Broadcast(ABC):
    """The local half every backend shares: subscribers by channel, and the fan-out to their queues."""

    def __init__(self, *, queue_limit: int = QUEUE_LIMIT) -> None:
        self.queue_limit = queue_limit
        self._local: dict[str, set[Subscriber]] = {}

    @property
    def channels(self) -> frozenset[str]:
        """The channels this process has subscribers for."""
        return frozenset(self._local)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        """Entered once the subscriber gets everything published from then on; left, it is forgotten."""
        subscriber = Subscriber(channel, self.queue_limit)
        subscribers = self._local.setdefault(channel, set())
        subscribers.add(subscriber)
        if len(subscribers) == 1:
            self._channels_changed()
        try:
            await self._listening(channel)
            yield subscriber
        finally:
            subscriber.close()
            subscribers.discard(subscriber)
            if not subscribers and self._local.get(channel) is subscribers:
                del self._local[channel]
                self._channels_changed()

    def _fan_out(self, channel: str, message: str, *, gap: bool = False) -> None:
        event = Event(channel, message, gap=gap)
        for subscriber in list(self._local.get(channel, ())):
            subscriber.deliver(event)

    def _close_subscribers(self) -> None:
        for subscribers in self._local.values():
            for subscriber in subscribers:
                subscriber.close()

    def _channels_changed(self) -> None:
        """A channel got its first local subscriber or lost its last one."""

    async def _listening(self, channel: str) -> None:
        """Until what is published on `channel` reaches this process."""

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None:
        """Close every subscriber (their iterations end) and release the backend."""

    @abstractmethod
    async def publish(self, channel: str, message: str) -> None:
        """Raises BroadcastUnavailable when the backend does not take it."""

    @abstractmethod
    async def ping(self) -> bool:
        """Whether the backend is reachable and every local subscription is listening."""


class MemoryBroadcast(Broadcast):
    """One process: a publish goes straight to the local subscribers."""

    async def connect(self) -> None:
        pass

    async def disconnect(self) -> None:
        self._close_subscribers()

    async def publish(self, channel: str, message: str) -> None:
        self._fan_out(channel, message)

    async def ping(self) -> bool:
        return True


def reconnect_delay(
    failures: int,
    *,
    first: float = RECONNECT_FIRST_DELAY,
    cap: float = RECONNECT_MAX_DELAY,
    jitter: Callable[[float, float], float] = random.uniform,
) -> float:
    """Doubling from `first`, at most `cap`, each drawn between half and all of it (processes spread out)."""
    ceiling = min(cap, first * 2 ** min(failures, 30))
    return jitter(ceiling / 2, ceiling)


class RedisBroadcast(Broadcast):
    """PUBLISH through a connection pool; one listener task per process holds one PubSub for every local
    subscriber, SUBSCRIBEs the channels they need and UNSUBSCRIBEs those the last one left.

    When the listener's connection breaks it reconnects with jittered backoff (at most `max_delay` apart)
    and re-SUBSCRIBEs every channel in use: subscribers see a gap, never an error. What is published
    while it is away is lost (pub/sub keeps nothing); clients catch up from the database."""

    def __init__(self, url: str, *, queue_limit: int = QUEUE_LIMIT, max_delay: float = RECONNECT_MAX_DELAY) -> None:
        super().__init__(queue_limit=queue_limit)
        self.url = url
        self.max_delay = max_delay
        self._client = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),  # fail at once: the listener and the publishing job retry
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
            socket_keepalive=True,
        )
        self._changed = asyncio.Event()
        self._progress = asyncio.Condition()
        self._live: set[str] = set()
        """Channels Redis confirmed in the listener's current connection."""
        self._lost: set[str] = set()
        """Channels that were live when the connection was lost: their subscribers get a gap once back."""
        self._connected = False
        self._closing = False
        self._listener: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Start the listener; it connects when the first channel is subscribed, so Redis may still be down."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="broadcast-listener")

    async def disconnect(self) -> None:
        self._closing = True
        self._close_subscribers()
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.wait({self._listener})
            self._listener = None
        async with self._progress:
            self._progress.notify_all()
        await self._client.aclose()

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self._client.publish(channel, message)
        except (RedisError, OSError) as error:
            raise BroadcastUnavailable(f"Redis did not take a message for {channel}: {error!r}") from error

    async def ping(self) -> bool:
        if self._local and not self._connected:
            return False
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    def _channels_changed(self) -> None:
        self._changed.set()

    async def _listening(self, channel: str) -> None:
        async with self._progress:
            await self._progress.wait_for(lambda: channel in self._live or self._closing)

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                await self._session()
            except (RedisError, OSError) as error:
                failures = 0 if self._connected else failures + 1
                self._connected = False
                self._lost |= self._live
                self._live.clear()
                delay = reconnect_delay(failures, cap=self.max_delay)
                log.warning("broadcast listener lost Redis (%s); reconnecting in %.2fs", error, delay)
                await asyncio.sleep(delay)
            except Exception:
                log.exception("broadcast listener failed; restarting it")
                self._connected = False
                self._lost |= self._live
                self._live.clear()
                await asyncio.sleep(self.max_delay)

    async def _session(self) -> None:
        """One PubSub connection: keep its subscriptions equal to the local channels and fan messages out."""
        async with self._client.pubsub() as pubsub:
            subscribed: set[str] = set()
            while True:
                self._changed.clear()
                wanted = set(self._local)
                self._lost &= wanted
                if wanted - subscribed:
                    await pubsub.subscribe(*(wanted - subscribed))
                if subscribed - wanted:
                    self._live.difference_update(subscribed - wanted)
                    await pubsub.unsubscribe(*(subscribed - wanted))
                subscribed = wanted
                if pubsub.connection is None:  # nothing subscribed yet: no connection to read from
                    await self._changed.wait()
                    continue
                message = await self._next_message(pubsub)
                if message is not None:
                    await self._handle(message, subscribed)

    async def _next_message(self, pubsub: PubSub) -> dict[str, Any] | None:
        """The next reply on the connection, or None as soon as the local channels change."""
        read = asyncio.ensure_future(pubsub.get_message(timeout=None))
        woken = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({read, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if not read.done():
                read.cancel()  # redis-py keeps a partly read reply buffered for the next read
                await asyncio.wait({read})
        if read.cancelled():
            return None
        message: dict[str, Any] | None = read.result()
        return message

    async def _handle(self, message: dict[str, Any], subscribed: set[str]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "message":
            self._fan_out(channel, message["data"])
        elif kind == "subscribe" and channel in subscribed:
            if not self._connected:
                log.info("broadcast listener subscribed to Redis")
            self._connected = True  # one SUBSCRIBE carries every channel: all are in place
            self._live.add(channel)
            if channel in self._lost:
                self._lost.discard(channel)
                self._fan_out(channel, "", gap=True)
            async with self._progress:
                self._progress.notify_all()


def make_broadcast(url: str) -> Broadcast:
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        return RedisBroadcast(url)
    if scheme == "memory":
        return MemoryBroadcast()
    raise ValueError(f"broadcast_url {url!r}: use memory:// or redis://")
