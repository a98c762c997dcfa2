"""The pub/sub behind `broadcast_url`: encode/broadcaster, with its Redis start-up race fixed."""

from __future__ import annotations

from urllib.parse import urlsplit

from broadcaster import Broadcast
from broadcaster._backends.redis import RedisBackend


class RedisPubSubBackend(RedisBackend):
    """broadcaster 0.3's RedisBackend wakes its listener before SUBSCRIBE is sent; redis-py's listen()
    returns at once while nothing is subscribed, the listener goes back to sleep for good and every
    message is lost. Here the listener is woken only once the subscription exists."""

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()


def make_broadcast(url: str) -> Broadcast:
    if urlsplit(url).scheme in ("redis", "rediss"):
        return Broadcast(backend=RedisPubSubBackend(url))
    return Broadcast(url)
