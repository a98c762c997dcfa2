"""WebSocket subscriptions against a real uvicorn server (tests/utils/live.py; the `live` fixture)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.utils.live import SAFETY_TIMEOUT, Live
from tests.utils.redis_server import RedisServer, redis_server_or_skip

PROTOCOL = "graphql-transport-ws"


class GraphQLWebSocket:
    """The client side of graphql-transport-ws."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), SAFETY_TIMEOUT)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def init(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, operation_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"id": operation_id, "type": "subscribe", "payload": payload})

    async def next_data(self, operation_id: str) -> dict[str, Any]:
        while True:
            message = await self.receive()
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            assert message.get("id") == operation_id and message["type"] == "next", message
            data: dict[str, Any] = message["payload"]["data"]
            return data

    async def execute(self, operation_id: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """A query or mutation over the connection: its one result, once the server completed it."""
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": operation_id, "type": "subscribe", "payload": payload})
        data = await self.next_data(operation_id)
        done = await self.receive()
        assert done == {"id": operation_id, "type": "complete"}, done
        return data


@asynccontextmanager
async def ws_client(live: Live) -> AsyncIterator[GraphQLWebSocket]:
    async with connect(live.ws_url, subprotocols=[PROTOCOL], open_timeout=SAFETY_TIMEOUT) as connection:  # type: ignore[list-item]
        yield GraphQLWebSocket(connection)


@asynccontextmanager
async def authorized(live: Live, token: str) -> AsyncIterator[GraphQLWebSocket]:
    async with ws_client(live) as client:
        ack = await client.init({"authorization": f"Bearer {token}"})
        assert ack["type"] == "connection_ack", ack
        yield client


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, free to stop and start; killed at the end."""
    server = redis_server_or_skip()
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)
