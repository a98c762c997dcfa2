"""In-process request coalescing: concurrent callers asking for the same thing share one fetch (what landed serves
only callers that arrived before it landed); a per-key throttle for "at most once per interval" side effects; a
bounded memo for values whose key carries the version they were computed from."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

T = TypeVar("T")

Joined = Callable[[Hashable, int], None]


def _ignore(key: Hashable, waiting: int) -> None:
    """No one listens to joins (the default; tests listen to wait without sleeping)."""


LANDED_KEPT_SECONDS = 5.0
"""How long a landed fetch stays available to callers that arrived before it landed (a bound on memory and on how
long such a caller may have queued, never a freshness window: later arrivals never get it)."""
LANDED_KEPT_MAX = 1024


class SingleFlight:
    """Per key, at most one fetch in flight; callers arriving while it runs await the same result.

    The fetch runs as a task of its own: a caller that goes away (a closed request) does not cancel it for the
    others. A caller may say when it `arrived` (time.monotonic() when its request began): a fetch of its key that
    landed after that moment answers it too, as it would have had the caller not queued (on the database pool,
    say) before asking: the caller could have joined that fetch while it was in flight. A caller that arrived
    after the last fetch landed, or says nothing, fetches again: this coalesces concurrent reads, it never
    serves one older than the caller's request. Failed fetches are never kept."""

    def __init__(
        self, joined: Joined = _ignore, *, kept_seconds: float = LANDED_KEPT_SECONDS, kept_max: int = LANDED_KEPT_MAX
    ) -> None:
        self._flights: dict[Hashable, tuple[asyncio.Task[Any], list[int]]] = {}
        self._landed: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._joined = joined
        self._kept_seconds = kept_seconds
        self._kept_max = kept_max

    async def run(self, key: Hashable, fetch: Callable[[], Awaitable[T]], *, arrived: float | None = None) -> T:
        if arrived is not None:
            landed = self._landed.get(key)
            if landed is not None and arrived < landed[0] and time.monotonic() - landed[0] <= self._kept_seconds:
                return cast(T, landed[1])
        flight = self._flights.get(key)
        if flight is None or flight[0].done():
            task: asyncio.Task[Any] = asyncio.ensure_future(fetch())
            flight = (task, [0])
            self._flights[key] = flight
            task.add_done_callback(lambda done: self._landed_now(key, done))
        task, waiting = flight
        waiting[0] += 1
        self._joined(key, waiting[0])
        return cast(T, await asyncio.shield(task))

    def in_flight(self) -> int:
        return len(self._flights)

    def _landed_now(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key, (None,))[0] is task:
            del self._flights[key]
        if task.cancelled():
            return
        if task.exception() is not None:  # retrieved here too: every caller may have gone away before it failed
            self._landed.pop(key, None)
            return
        now = time.monotonic()
        self._landed[key] = (now, task.result())
        self._landed.move_to_end(key)
        while self._landed:
            oldest_key, (landed_at, _) = next(iter(self._landed.items()))
            if now - landed_at <= self._kept_seconds and len(self._landed) <= self._kept_max:
                break
            del self._landed[oldest_key]


class Throttle:
    """Whether a key's action may run now: at most once per `interval` per key, in this process."""

    def __init__(self) -> None:
        self._last: dict[Hashable, datetime] = {}

    def allow(self, key: Hashable, now: datetime, interval: timedelta) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < interval:
            return False
        if len(self._last) > 10_000:
            self._last = {k: t for k, t in self._last.items() if now - t < interval}
        self._last[key] = now
        return True

    def forget(self, key: Hashable) -> None:
        """Let the key's action run again at once (it did not happen after all)."""
        self._last.pop(key, None)


class Memo:
    """A bounded map that forgets the least recently used entry first: for values fully determined by their key
    (a key that includes the version of what they were computed from), so an entry is never stale, only unused."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def put(self, key: Hashable, value: object) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self._size:
            self._values.popitem(last=False)

    def carry(self, rename: Callable[[Hashable], Hashable | None]) -> int:
        """Also keep each value under `rename(key)` where that is not None (its version moved on, and the value
        is known to hold for the new one); returns how many were carried."""
        carried = [(new, value) for key, value in self._values.items() if (new := rename(key)) is not None]
        for new, value in carried:
            self.put(new, value)
        return len(carried)

    def __len__(self) -> int:
        return len(self._values)
