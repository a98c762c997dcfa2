"""The in-process coalescing pieces on their own: one fetch per key in flight, nothing kept after it lands."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from meetgraph.single_flight import Memo, SingleFlight, Throttle


class Fetches:
    def __init__(self) -> None:
        self.count = 0
        self.gate = asyncio.Event()

    async def fetch(self) -> int:
        self.count += 1
        await self.gate.wait()
        return self.count


async def test_concurrent_callers_share_one_fetch_and_the_next_caller_fetches_again() -> None:
    # given
    flight, fetches = SingleFlight(), Fetches()
    callers = [asyncio.ensure_future(flight.run("key", fetches.fetch)) for _ in range(10)]
    await asyncio.sleep(0)
    # when
    fetches.gate.set()
    results = await asyncio.gather(*callers)
    later = await flight.run("key", fetches.fetch)
    # then
    assert results == [1] * 10 and later == 2
    assert flight.in_flight() == 0


async def test_a_caller_that_goes_away_does_not_cancel_the_fetch_for_the_others() -> None:
    # given
    flight, fetches = SingleFlight(), Fetches()
    first = asyncio.ensure_future(flight.run("key", fetches.fetch))
    second = asyncio.ensure_future(flight.run("key", fetches.fetch))
    await asyncio.sleep(0)
    # when
    first.cancel()
    fetches.gate.set()
    # then
    assert await second == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_failed_fetch_fails_every_caller_and_is_not_kept() -> None:
    # given
    flight = SingleFlight()
    gate = asyncio.Event()

    async def failing() -> int:
        await gate.wait()
        raise RuntimeError("provider down")

    callers = [asyncio.ensure_future(flight.run("key", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    # when
    gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    # then
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await flight.run("key", lambda: asyncio.sleep(0, result=5)) == 5


def test_the_throttle_allows_a_key_once_per_interval() -> None:
    throttle, now, interval = Throttle(), datetime(2026, 12, 1, tzinfo=UTC), timedelta(seconds=120)
    assert throttle.allow("a", now, interval)
    assert not throttle.allow("a", now + timedelta(seconds=119), interval)
    assert throttle.allow("b", now, interval)
    assert throttle.allow("a", now + interval, interval)
    throttle.forget("a")
    assert throttle.allow("a", now + interval, interval)


def test_the_memo_forgets_the_least_recently_used_first() -> None:
    memo = Memo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1
    memo.put("c", 3)
    assert memo.get("b") is None and memo.get("a") == 1 and memo.get("c") == 3 and len(memo) == 2


async def test_a_landed_fetch_answers_callers_that_arrived_before_it_landed_and_no_later_one() -> None:
    # given: a caller arrives, then queues (elsewhere) while another caller's fetch runs and lands
    flight, fetches = SingleFlight(), Fetches()
    queued_since = time.monotonic()
    first = asyncio.ensure_future(flight.run("key", fetches.fetch, arrived=time.monotonic()))
    await asyncio.sleep(0)
    fetches.gate.set()
    assert await first == 1 and flight.in_flight() == 0
    # when
    queued = await flight.run("key", fetches.fetch, arrived=queued_since)
    later = await flight.run("key", fetches.fetch, arrived=time.monotonic())
    unsaid = await flight.run("key", fetches.fetch)
    # then: the queued caller got the landed result; one that arrived after it landed, or says nothing, fetched
    assert (queued, later, unsaid) == (1, 2, 3)
    assert fetches.count == 3


async def test_a_landed_fetch_is_kept_only_for_a_bounded_time_and_a_failed_one_not_at_all() -> None:
    # given
    expired, fetches = SingleFlight(kept_seconds=0.0), Fetches()
    fetches.gate.set()
    arrived = time.monotonic()
    await expired.run("key", fetches.fetch, arrived=arrived)
    failing = SingleFlight()
    earlier = time.monotonic()

    async def down() -> int:
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        await failing.run("key", down, arrived=earlier)
    # when
    again = await expired.run("key", fetches.fetch, arrived=arrived)
    retried = await failing.run("key", lambda: asyncio.sleep(0, result=5), arrived=earlier)
    # then
    assert again == 2 and retried == 5


async def test_landed_fetches_kept_are_bounded_in_number() -> None:
    flight = SingleFlight(kept_max=2)
    arrived = time.monotonic()
    for key in ("a", "b", "c"):
        await flight.run(key, lambda k=key: asyncio.sleep(0, result=k))  # type: ignore[misc]
    assert await flight.run("a", lambda: asyncio.sleep(0, result="fetched"), arrived=arrived) == "fetched"
    assert await flight.run("c", lambda: asyncio.sleep(0, result="fetched"), arrived=arrived) == "c"
