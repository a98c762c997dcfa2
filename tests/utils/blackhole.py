"""A black-hole server: a real TCP listener that accepts every connection and never answers a byte (a server that
hangs), so a test can wait for its connections without sleeping."""

from __future__ import annotations

import asyncio
import socket
import threading

from tests.utils.outbound import Listener


class _Held(list[socket.socket]):
    """The held connections, announcing each new one."""

    def __init__(self, arrived: threading.Condition) -> None:
        super().__init__()
        self.arrived = arrived

    def append(self, conn: socket.socket) -> None:
        with self.arrived:
            super().append(conn)
            self.arrived.notify_all()


class BlackHole(Listener):
    """Listens on 127.0.0.1; every accepted connection stays open and silent until the black hole closes (then the
    clients waiting on them fail at once)."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1", hold=True)
        self._arrived = threading.Condition()
        self.held = _Held(self._arrived)

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_accepted(self, count: int, timeout: float) -> bool:
        """Whether `count` connections were accepted within `timeout` seconds."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.held) >= count, timeout)

    async def until_accepted(self, count: int, timeout: float = 30.0) -> None:
        assert await asyncio.to_thread(self.wait_accepted, count, timeout), f"{count} connections to the black hole"

    def __enter__(self) -> BlackHole:
        super().__enter__()
        return self
