"""A `requests` transport that checks every connection it opens against an OutboundPolicy, at connect time.

The host name is resolved once per connection, every resolved address is judged (providers/outbound.py), and the
socket connects to exactly those checked addresses: a name cannot resolve to a public address when checked and to
127.0.0.1 when connected (DNS rebinding), redirects to another host open their own checked connection, and
environment proxies are not used. The policy in force is the context's (`outbound_policy`), so it follows the
code into the worker threads asyncio.to_thread runs it in; without one, only public https is allowed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from providers.outbound import IPAddress, OutboundPolicy

outbound_policy: ContextVar[OutboundPolicy] = ContextVar("outbound_policy", default=OutboundPolicy())


class OutboundRefused(OSError):
    """The policy does not allow connecting there (answered like any other failure to connect)."""


@contextmanager
def using(policy: OutboundPolicy) -> Iterator[None]:
    """Connections opened in this block (in this thread or context) follow `policy`."""
    token = outbound_policy.set(policy)
    try:
        yield
    finally:
        outbound_policy.reset(token)


def checked_addresses(host: str, port: int, *, https: bool) -> list[tuple[Any, ...]]:
    """getaddrinfo results for host:port, all of them allowed by the context's policy, or OutboundRefused."""
    bare = host.strip("[]")
    found = socket.getaddrinfo(bare, port, allowed_gai_family(), socket.SOCK_STREAM)
    addresses: list[IPAddress] = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not outbound_policy.get().allows_all(host=bare, addresses=addresses, port=port, https=https):
        raise OutboundRefused(f"connecting to {host}:{port} is not allowed")
    return list(found)


def connect_checked(
    host: str, port: int, timeout: float | None, source_address: tuple[str, int] | None, options: Any, *, https: bool
) -> socket.socket:
    """urllib3's create_connection, over the checked addresses only."""
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in checked_addresses(host, port, https=https):
        sock = None
        try:
            sock = socket.socket(family, kind, proto)
            for option in options or ():
                sock.setsockopt(*option)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    raise error or OSError(f"no address for {host}")


class _Checked:
    """The part of urllib3's HTTPConnection._new_conn that opens the socket, through connect_checked."""

    https = False

    def _new_conn(self: Any) -> socket.socket:
        try:
            return connect_checked(
                self._dns_host, self.port, self.timeout, self.source_address, self.socket_options, https=self.https
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc


class CheckedHTTPConnection(_Checked, HTTPConnection):
    https = False


class CheckedHTTPSConnection(_Checked, HTTPSConnection):
    https = True


class CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = CheckedHTTPConnection


class CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = CheckedHTTPSConnection


class CheckedHTTPAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose connections are all checked (no proxies: a proxy would be what gets checked)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": CheckedHTTPConnectionPool,
            "https": CheckedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise OutboundRefused("outbound connections to user-given URLs do not use proxies")


def checked_session(session: requests.Session, adapter: requests.adapters.HTTPAdapter) -> requests.Session:
    """`session` with every http(s) URL through `adapter` and no proxy or .netrc from the environment."""
    session.trust_env = False
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
