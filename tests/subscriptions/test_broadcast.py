"""The pub/sub itself: the memory backend, the fan-out and its queue bound, and the Redis backend against a
redis-server of the test's own that is stopped and started again."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from meetgraph.broadcast import (
    BroadcastUnavailable,
    Event,
    MemoryBroadcast,
    RedisBroadcast,
    Subscriber,
    make_broadcast,
    reconnect_delay,
)
from tests.utils.redis_server import RedisServer

TIMEOUT = 10.0
"""Only bounds a broken test; nothing waits for it to pass."""


async def next_event(subscriber: Subscriber) -> Event:
    return await asyncio.wait_for(anext(subscriber), TIMEOUT)


async def remaining(subscriber: Subscriber) -> list[str]:
    """What the subscriber still gets before its iteration ends."""

    async def drain() -> list[str]:
        return [event.message async for event in subscriber]

    return await asyncio.wait_for(drain(), TIMEOUT)


async def eventually(state: Callable[[], Awaitable[object]], wanted: object, what: str) -> None:
    """Poll a state that changes in the background (Redis going, coming back), bounded."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while await state() != wanted:
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.02)


@pytest.fixture
async def memory() -> AsyncIterator[MemoryBroadcast]:
    broadcast = MemoryBroadcast(queue_limit=3)
    await broadcast.connect()
    yield broadcast
    await broadcast.disconnect()


@pytest.fixture
async def on_redis(own_redis: RedisServer) -> AsyncIterator[RedisBroadcast]:
    broadcast = RedisBroadcast(own_redis.url, max_delay=0.2)
    await broadcast.connect()
    yield broadcast
    await broadcast.disconnect()


async def subscribers_at_redis(url: str, channel: str) -> int:
    async with aioredis.Redis.from_url(url) as client:
        counts = dict(await client.pubsub_numsub(channel))
        return int(counts[channel.encode()])


def test_the_url_chooses_the_backend() -> None:
    assert isinstance(make_broadcast("memory://"), MemoryBroadcast)
    assert isinstance(make_broadcast("redis://127.0.0.1:1/0"), RedisBroadcast)
    with pytest.raises(ValueError):
        make_broadcast("kafka://somewhere")


def test_reconnect_delay_grows_jittered_and_stays_under_its_cap() -> None:
    lowest = [reconnect_delay(n, first=0.05, cap=1.0, jitter=lambda low, high: low) for n in range(40)]
    highest = [reconnect_delay(n, first=0.05, cap=1.0, jitter=lambda low, high: high) for n in range(40)]
    assert highest[:6] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0])
    assert lowest == pytest.approx([delay / 2 for delay in highest])
    assert max(highest) == 1.0


async def test_memory_publish_reaches_every_subscriber_of_the_channel_in_order(memory: MemoryBroadcast) -> None:
    # given
    async with memory.subscribe(channel="a") as first, memory.subscribe(channel="a") as second:
        async with memory.subscribe(channel="b") as other:
            # when
            await memory.publish(channel="a", message="1")
            await memory.publish(channel="a", message="2")
            await memory.publish(channel="b", message="x")
            # then
            for subscriber in (first, second):
                assert [(await next_event(subscriber)).message for _ in range(2)] == ["1", "2"]
            assert await next_event(other) == Event("b", "x")


async def test_leaving_forgets_the_subscriber_and_its_channel(memory: MemoryBroadcast) -> None:
    async with memory.subscribe(channel="a"):
        async with memory.subscribe(channel="a"):
            assert memory.channels == {"a"}
        assert memory.channels == {"a"}
    assert memory.channels == frozenset()
    await memory.publish(channel="a", message="nobody listens")


async def test_a_subscriber_that_falls_behind_the_bound_is_closed_and_others_go_on(memory: MemoryBroadcast) -> None:
    # given: queues of 3 events; one subscriber never reads, one keeps up
    async with memory.subscribe(channel="a") as slow, memory.subscribe(channel="a") as keeping_up:
        # when
        received = []
        for n in range(6):
            await memory.publish(channel="a", message=str(n))
            received.append((await next_event(keeping_up)).message)
        # then: the slow one holds no more than its bound, gets it, and its iteration ends
        assert slow.overflowed and not keeping_up.overflowed
        assert await remaining(slow) == ["0", "1", "2"]
        assert received == ["0", "1", "2", "3", "4", "5"]


async def test_disconnect_ends_every_subscription(memory: MemoryBroadcast) -> None:
    async with memory.subscribe(channel="a") as subscriber:
        await memory.publish(channel="a", message="last")
        await memory.disconnect()
        assert await remaining(subscriber) == ["last"]


async def test_redis_holds_one_subscription_per_channel_and_drops_it_with_the_last_subscriber(
    on_redis: RedisBroadcast, own_redis: RedisServer
) -> None:
    # given
    async with on_redis.subscribe(channel="a") as first, on_redis.subscribe(channel="a") as second:
        assert await subscribers_at_redis(own_redis.url, "a") == 1
        # when
        await on_redis.publish(channel="a", message="hello")
        # then
        assert (await next_event(first)).message == "hello"
        assert (await next_event(second)).message == "hello"
    await eventually(lambda: subscribers_at_redis(own_redis.url, "a"), 0, "UNSUBSCRIBE once the last one left")


async def test_redis_subscriptions_come_and_go_while_messages_flow_without_losing_any(
    own_redis: RedisServer,
) -> None:
    # given: a subscriber of "a" that must get all of a steady stream in order
    on_redis = RedisBroadcast(own_redis.url, queue_limit=1000)
    await on_redis.connect()
    try:
        async with on_redis.subscribe(channel="a") as steady:

            async def churn() -> None:
                for n in range(20):
                    async with on_redis.subscribe(channel=f"other-{n % 3}") as other:
                        await on_redis.publish(channel=f"other-{n % 3}", message="x")
                        assert (await next_event(other)).message == "x"

            async def stream() -> None:
                for n in range(300):
                    await on_redis.publish(channel="a", message=str(n))

            # when: channels are subscribed and unsubscribed while "a" is being read
            await asyncio.wait_for(asyncio.gather(churn(), stream()), TIMEOUT)
            # then
            assert [(await next_event(steady)).message for _ in range(300)] == [str(n) for n in range(300)]
    finally:
        await on_redis.disconnect()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
async def test_redis_subscribers_resume_after_redis_restarts(
    on_redis: RedisBroadcast, own_redis: RedisServer, stop_signal: signal.Signals
) -> None:
    # given
    async with on_redis.subscribe(channel="a") as existing:
        await on_redis.publish(channel="a", message="before")
        assert (await next_event(existing)).message == "before"
        # when: Redis stops
        own_redis.stop(stop_signal)
        # then: publishing says so, readiness says so, the subscriber sees no error
        with pytest.raises(BroadcastUnavailable):
            await on_redis.publish(channel="a", message="lost")
        await eventually(on_redis.ping, False, "ping fails while Redis is down")
        # a subscription begun during the outage: entered once Redis listens for it
        listening = asyncio.Event()
        during = asyncio.create_task(first_message(on_redis, "b", listening))
        # when: Redis is back on the same port
        own_redis.start()
        await eventually(on_redis.ping, True, "ping answers once the listener has re-subscribed")
        await asyncio.wait_for(listening.wait(), TIMEOUT)
        await on_redis.publish(channel="a", message="after")
        await on_redis.publish(channel="b", message="to the new one")
        # then: the existing subscriber is told of the gap (to catch up), then gets what follows
        gap = await next_event(existing)
        assert gap.gap and gap.message == ""
        assert (await next_event(existing)).message == "after"
        assert await asyncio.wait_for(during, TIMEOUT) == "to the new one"
        assert not existing.closed


async def first_message(broadcast: RedisBroadcast, channel: str, listening: asyncio.Event) -> str:
    async with broadcast.subscribe(channel=channel) as subscriber:
        listening.set()
        return (await next_event(subscriber)).message
