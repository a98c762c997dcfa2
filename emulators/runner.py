"""Serve an ASGI app with uvicorn on a loopback port in a background thread (tests, bench, emulate)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> Iterator[str]:
    """Run `app` until the block ends (over TLS with a certificate and key file); yields its base URL (no trailing
    slash)."""
    port = port or free_port(host)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        ws="websockets-sansio",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    started = threading.Event()

    def _wait_started() -> None:
        while not server.started and thread.is_alive():
            started.wait(0.01)

    _wait_started()
    if not server.started:
        raise RuntimeError(f"server on {host}:{port} did not start")
    try:
        yield f"{'https' if ssl_certfile else 'http'}://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
