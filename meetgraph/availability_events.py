"""The "a user's availability may have changed" signal: one broadcast channel per owner, published after every change that
can alter their free slots (a booking or cancellation, a synced calendar change, a settings or page change) and
listened to by availableSlotsChanged subscriptions.

Those subscriptions share feeds: one per page and window in a process, holding one broadcast subscription and
computing the slots once per change for all its subscribers, created with the first and gone with the last.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from scheduling.slots import Slot

if TYPE_CHECKING:
    from meetgraph.broadcast import Broadcast
    from meetgraph.services import Events, Services

log = logging.getLogger("meetgraph.availability")

LISTEN_WAIT = 2.0
"""How long a new feed's first answer waits for the broadcast to listen. Past it (the backend is down) the slots
are computed at once, and again once the broadcast listens, so nothing changed meanwhile is missed."""


def channel_for(user_id: uuid.UUID) -> str:
    return f"availability:{user_id}"


async def availability_changed(services: Services, user_id: uuid.UUID) -> None:
    """Tell every process's subscribers of the owner's pages to recompute. Never raises: a lost message costs a
    subscriber one stale answer until the next change, never the change itself."""
    try:
        await services.broadcast.publish(channel_for(user_id), "changed")
    except Exception:  # the broadcast backend is down: the change itself stands
        log.warning("could not publish an availability change for user %s", user_id, exc_info=True)


FeedKey = tuple[uuid.UUID, datetime, datetime]
"""A page's id and the window's start and end (UTC): the slots do not depend on the domain the page was found on."""


@dataclass(frozen=True)
class Answer:
    """A feed's computed slots, and the instant from which the clock alone changes them."""

    slots: list[Slot]
    due: datetime | None = None
    """The first instant the earliest slot is no longer offered (it falls within the minimum notice); None when
    no slot can go by the clock alone. The feed computes again then, with no message."""


Compute = Callable[[], Awaitable[Answer]]
Clock = Callable[[], datetime]


class Wiring(Protocol):
    """What a feed uses of the app's services."""

    @property
    def broadcast(self) -> Broadcast: ...

    @property
    def events(self) -> Events: ...

    @property
    def clock(self) -> Clock: ...


async def _first_of(awaitable: Awaitable[object], task: asyncio.Task[bool], timeout: float | None = None) -> None:
    """Until `awaitable` is done, `task` ends or `timeout` seconds pass."""
    waiter = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({waiter, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


class SlotFeed:
    """The slots of one page and window, recomputed when the owner's channel says something changed.

    A reader task sets `dirty` for every message (or gap) the broadcast delivers; the runner computes once for
    whatever arrived meanwhile, so a burst of messages costs one computation. `version` grows only when the
    slots differ from the last computed list, and every subscriber waits on it.
    """

    def __init__(
        self, broadcast: Broadcast, events: Events, clock: Clock, key: FeedKey, owner_id: uuid.UUID, compute: Compute
    ) -> None:
        self.key = key
        self.channel = channel_for(owner_id)
        self.slots: list[Slot] | None = None
        self.error: Exception | None = None
        """Why the first computation failed (no slots yet); its subscribers receive it."""
        self.version = 0
        self.ended = False
        self.subscribers = 0
        self._broadcast = broadcast
        self._events = events
        self._compute = compute
        self._clock = clock
        self._due: datetime | None = None
        self._dirty = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner = asyncio.create_task(self._run(), name=f"slots-feed-{key[0]}")

    async def follow(self) -> AsyncIterator[list[Slot]]:
        """The current slots (once known), then each different list; ends when the feed does."""
        seen = 0
        sent: list[Slot] | None = None
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self.version > seen or self.ended)
                if self.version == seen:
                    return
                seen, slots, error = self.version, self.slots, self.error
            if slots is None:
                assert error is not None
                raise error
            if slots != sent:
                sent = slots
                yield slots

    async def close(self) -> None:
        self._runner.cancel()
        await asyncio.wait({self._runner})

    async def _run(self) -> None:
        try:
            while await self._listen_once():
                log.info("slots feed %s fell behind its channel: subscribing again", self.key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("slots feed %s failed; its subscriptions end", self.key)
        finally:
            self.ended = True
            async with self._changed:
                self._changed.notify_all()

    async def _listen_once(self) -> bool:
        """One broadcast subscription; True when it ended because this feed fell behind (listen again)."""
        listening = asyncio.Event()
        reader = asyncio.create_task(self._read(listening))
        try:
            if self.version == 0:
                await _first_of(listening.wait(), reader, LISTEN_WAIT)
                if not listening.is_set() and not reader.done():
                    await self._recompute()  # answer now; computed again once listening
            await _first_of(listening.wait(), reader)
            # listening from here on: compute the first answer, or catch up on what was missed before
            self._dirty.set()
            while True:
                if not self._dirty.is_set():
                    await _first_of(self._dirty.wait(), reader, self._seconds_to_due())
                    if self._due is not None and self._clock() >= self._due and not reader.done():
                        self._dirty.set()
                if self._dirty.is_set():
                    self._dirty.clear()
                    await self._recompute()
                elif reader.done():
                    return reader.result()
        finally:
            reader.cancel()
            await asyncio.wait({reader})

    def _seconds_to_due(self) -> float | None:
        if self._due is None:
            return None
        return max((self._due - self._clock()).total_seconds(), 0.0)

    async def _read(self, listening: asyncio.Event) -> bool:
        """Mark the feed dirty for each message and each gap (what was published while the backend was away is
        lost: one computation catches up). True when the subscriber was closed for falling behind."""
        async with self._broadcast.subscribe(self.channel) as subscriber:
            listening.set()
            async for _ in subscriber:
                self._dirty.set()
        return subscriber.overflowed

    async def _recompute(self) -> None:
        try:
            answer = await self._compute()
        except Exception as error:
            if self.slots is None:
                await self._publish(None, error)
            log.warning("slots feed %s could not compute its slots; kept the last list", self.key, exc_info=True)
            return
        finally:
            self._events.slots_computed(self.key)
        self._due = answer.due
        if answer.slots != self.slots:
            await self._publish(answer.slots, None)

    async def _publish(self, slots: list[Slot] | None, error: Exception | None) -> None:
        async with self._changed:
            self.slots, self.error = slots, error
            self.version += 1
            self._changed.notify_all()


class SlotFeeds:
    """The process's feeds by page and window (part of the app's wiring: one per Services)."""

    def __init__(self) -> None:
        self._feeds: dict[Hashable, SlotFeed] = {}

    def __len__(self) -> int:
        return len(self._feeds)

    async def follow(
        self, services: Wiring, key: FeedKey, owner_id: uuid.UUID, compute: Compute
    ) -> AsyncIterator[list[Slot]]:
        """The feed's slots for one subscriber: joins the feed for `key` (made with `compute` if there is none)
        and leaves it when the iteration ends; the last one to leave stops it."""
        feed = self._feeds.get(key)
        if feed is None or feed.ended:
            feed = self._feeds[key] = SlotFeed(
                services.broadcast, services.events, services.clock, key, owner_id, compute
            )
        feed.subscribers += 1
        try:
            async for slots in feed.follow():
                yield slots
        finally:
            feed.subscribers -= 1
            if feed.subscribers == 0:
                if self._feeds.get(key) is feed:
                    del self._feeds[key]
                await feed.close()
                services.events.slots_feed_closed(key)
