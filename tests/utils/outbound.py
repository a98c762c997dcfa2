"""Seeing where the server's outbound HTTP goes: listening sockets that record who connected, and every connect
`requests`/urllib3 attempts in this process (an audit hook, which also stops any attempt to leave loopback)."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

ACCEPT_POLL_SECONDS = 0.05
"""How often the accept loop looks at its stop flag (it never delays a connection)."""
OUTBOUND_MODULES = ("urllib3.", "requests.", "providers.guarded_http")


class Listener:
    """A TCP socket listening on `host` that accepts, records and closes every connection (or, with `hold`, keeps
    it open without a word until the listener stops: a server that never answers)."""

    def __init__(self, host: str = "127.0.0.1", *, hold: bool = False) -> None:
        self.hold = hold
        self.held: list[socket.socket] = []
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, 0), family=family)
        self.sock.settimeout(ACCEPT_POLL_SECONDS)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"listener-{self.port}", daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.hold:
                self.held.append(conn)
            else:
                conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.held:
            conn.close()
        self.sock.close()


def _from_outbound_http() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(OUTBOUND_MODULES):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class ConnectAttempts:
    """Every address `requests`/urllib3 tries to connect to while active (any thread). Attempts to leave loopback
    are recorded and refused here, so a test never really reaches the metadata service or a private network."""

    _active: list[ConnectAttempts] = []
    _hooked = False

    def __init__(self) -> None:
        self.addresses: list[tuple[str, int]] = []

    @classmethod
    def _hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if event != "socket.connect" or not cls._active or not _from_outbound_http():
            return
        address = args[1]
        if not isinstance(address, tuple):
            return
        host, port = str(address[0]), int(address[1])
        for attempts in cls._active:
            attempts.addresses.append((host, port))
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise ConnectionRefusedError(f"test: no connection to {host}:{port} leaves this machine")

    def __enter__(self) -> ConnectAttempts:
        if not ConnectAttempts._hooked:
            sys.addaudithook(ConnectAttempts._hook)
            ConnectAttempts._hooked = True
        ConnectAttempts._active.append(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        ConnectAttempts._active.remove(self)


class Canned:
    """An ASGI app that answers every HTTP request with the same status, headers and body (and counts them)."""

    def __init__(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.status, self.body = status, body
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.requests = 0

    @classmethod
    def redirect(cls, location: str) -> Canned:
        return cls(302, headers={"Location": location})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


class AsHost:
    """Serves `app` as if it were reached at `host` (its Host header rewritten): an emulator's autodiscover then
    names an EWS URL on that host."""

    def __init__(self, app: ASGIApp, host: str) -> None:
        self.app, self.host = app, host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", self.host.encode())]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def redis_connections(port: int) -> int:
    """`total_connections_received` of the redis-server on `port` (this query's own connection included)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, sock.makefile("rb") as reply:
        sock.sendall(b"INFO stats\r\n")
        size = int(reply.readline().strip().lstrip(b"$"))
        info = reply.read(size + 2).decode()
    line = next(x for x in info.splitlines() if x.startswith("total_connections_received:"))
    return int(line.split(":", 1)[1])


@contextmanager
def listeners(count: int, host: str = "127.0.0.1", *, hold: bool = False) -> Iterator[list[Listener]]:
    """`count` recording listeners on `host`."""
    made = [Listener(host, hold=hold) for _ in range(count)]
    for listener in made:
        listener.__enter__()
    try:
        yield made
    finally:
        for listener in made:
            listener.__exit__()
