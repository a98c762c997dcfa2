"""What the app published on a user's bookingAttempts channel, read straight from Redis (redis-py), so a
subscriber stays connected while the servers that publish die and restart."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import redis.asyncio as redis

from resolvers.attempts import channel_for

REDIS_ENV = "MEETGRAPH_TEST_REDIS_URL"
TIMEOUT = 20.0


def redis_url() -> str | None:
    return os.environ.get(REDIS_ENV) or None


class Published:
    """Attempt ids as they arrive on the channel, counted (a repeat counts twice)."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.client, self.channel = client, channel
        self.counts: Counter[str] = Counter()
        self.changed = asyncio.Condition()

    async def _receive(self, pubsub: redis.client.PubSub) -> None:
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            async with self.changed:
                self.counts[json.loads(message["data"])["id"]] += 1
                self.changed.notify_all()

    async def fence(self) -> Counter[str]:
        """Everything published before this call, once it has arrived: a marker is published after it and
        waited for (Redis delivers one channel's messages in the order it executed the PUBLISHes)."""
        marker = f"fence-{uuid.uuid4()}"
        await self.client.publish(self.channel, json.dumps({"id": marker}))
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: marker in self.counts), TIMEOUT)
        return Counter({key: n for key, n in self.counts.items() if not key.startswith("fence-")})


@asynccontextmanager
async def published_attempts(url: str, user_id: str) -> AsyncIterator[Published]:
    """Subscribed (confirmed by Redis) to the user's channel for the block."""
    client = redis.from_url(url)
    pubsub = client.pubsub()
    channel = channel_for(uuid.UUID(user_id))
    await pubsub.subscribe(channel)
    confirmation = await pubsub.get_message(timeout=TIMEOUT)
    assert confirmation is not None and confirmation["type"] == "subscribe", confirmation
    published = Published(client, channel)
    reader = asyncio.create_task(published._receive(pubsub))
    try:
        yield published
    finally:
        reader.cancel()
        with suppress(asyncio.CancelledError):
            await reader
        await pubsub.aclose()
        await client.aclose()
