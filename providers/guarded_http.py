"""A `requests` transport that checks every connection it opens against an OutboundPolicy, at connect time.

The host name is resolved once per connection, every resolved address is judged (providers/outbound.py), and the
socket connects to exactly those checked addresses: a name cannot resolve to a public address when checked and to
127.0.0.1 when connected (DNS rebinding), redirects to another host open their own checked connection, and
environment proxies are not used. The policy in force is the context's (`outbound_policy`), so it follows the
code into the worker threads asyncio.to_thread runs it in; without one, only public https is allowed.

Two more things follow the context the same way: the CA bundle trusted besides the system's (`trusting`), and a
record of what the servers answered during one call (`recording`), so a failure can be told apart by what the server
said (an untrusted certificate, a web page, a redirect, the login methods offered) rather than by library messages.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from providers.outbound import IPAddress, OutboundPolicy

outbound_policy: ContextVar[OutboundPolicy] = ContextVar("outbound_policy", default=OutboundPolicy())
trusted_cas: ContextVar[str | None] = ContextVar("trusted_cas", default=None)
"""A PEM file of CA certificates trusted besides the system's (an on-prem CA), for connections in this context."""


class OutboundRefused(OSError):
    """The policy does not allow connecting there (answered like any other failure to connect)."""


@contextmanager
def using(policy: OutboundPolicy, *, ca_bundle: str | None = None) -> Iterator[None]:
    """Connections opened in this block (in this thread or context) follow `policy` and trust `ca_bundle`'s CAs
    besides the system's."""
    token = outbound_policy.set(policy)
    cas = trusted_cas.set(ca_bundle)
    try:
        yield
    finally:
        trusted_cas.reset(cas)
        outbound_policy.reset(token)


class CaBundleUnreadable(OSError):
    """The configured CA bundle is missing or holds no usable certificate."""


@functools.lru_cache(maxsize=8)
def context_trusting(ca_bundle: str) -> ssl.SSLContext:
    """A verifying TLS context trusting the system's CAs and those in `ca_bundle` (built once per file)."""
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise CaBundleUnreadable(f"cannot read the CA bundle {ca_bundle}: {exc}") from exc
    return context


# what the servers answered ----------------------------------------------------------------------------------
MICROSOFT_HEADERS = ("x-owa-version", "x-feserver", "x-beserver", "x-calculatedbetarget", "x-aspnet-version")
"""Headers only Microsoft's web stack (IIS, ASP.NET, Exchange's front end) sends."""


@dataclass(frozen=True)
class Answer:
    """The parts of one HTTP answer that tell what kind of server answered."""

    status: int
    url: str
    location: str = ""
    auth_schemes: frozenset[str] = frozenset()
    is_xml: bool = False
    from_microsoft: bool = False
    """IIS / ASP.NET / Exchange answered (by its headers, or a page linking to Outlook on the web)."""

    @classmethod
    def of(cls, response: requests.Response, *, streamed: bool) -> Answer:
        """`response`'s answer; its body is only looked at when requests reads it anyway (not `streamed`) and no
        login handshake still needs the open connection (a 401: requests_ntlm's hook reads the socket's certificate
        for channel binding, which fails once the body was read here)."""
        headers = response.headers
        challenges = ",".join(v for k, v in headers.items() if k.lower() == "www-authenticate")
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = b"" if streamed or response.status_code == 401 else response.content[:8192]
        microsoft = (
            "microsoft-iis" in headers.get("Server", "").lower()
            or "asp.net" in headers.get("X-Powered-By", "").lower()
            or any(name in headers for name in MICROSOFT_HEADERS)
            or b"/owa/" in body.lower()
        )
        return cls(
            status=response.status_code,
            url=response.url or "",
            location=headers.get("Location", ""),
            auth_schemes=auth_schemes(challenges),
            is_xml=content_type.endswith(("/xml", "+xml")) or body.lstrip().startswith(b"<?xml"),
            from_microsoft=microsoft,
        )

    @property
    def redirect_target(self) -> str:
        """The absolute URL a 3xx answer points to ('' when it is no redirect)."""
        if self.status not in (301, 302, 303, 307, 308) or not self.location:
            return ""
        return urljoin(self.url, self.location)

    @property
    def redirect_host(self) -> str:
        return (urlsplit(self.redirect_target).hostname or "").lower()


def auth_schemes(challenges: str) -> frozenset[str]:
    """The auth schemes named in WWW-Authenticate values (`Negotiate, NTLM` -> {negotiate, ntlm})."""
    schemes = set()
    for part in challenges.split(","):
        token = part.strip().split(" ", 1)[0].split("=", 1)
        if len(token) == 1 and token[0]:  # a scheme name, not an auth-param (key=value)
            schemes.add(token[0].lower())
    return frozenset(schemes)


@dataclass
class Answers:
    """What the servers answered on the connections of one call, in order."""

    answers: list[Answer] = field(default_factory=list)
    certificate_refused: bool = False
    """A TLS handshake failed because the server's certificate is not trusted (or not valid for its name)."""


answers_heard: ContextVar[Answers | None] = ContextVar("answers_heard", default=None)


@contextmanager
def recording() -> Iterator[Answers]:
    """Record what the servers answer to the requests sent in this block (this thread or context)."""
    heard = Answers()
    token = answers_heard.set(heard)
    try:
        yield heard
    finally:
        answers_heard.reset(token)


def is_certificate_error(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a failed certificate verification."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException) and is_certificate_error(reason):
            return True
        for arg in current.args:
            if isinstance(arg, BaseException) and is_certificate_error(arg):
                return True
        current = current.__cause__ or current.__context__
    return False


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

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """requests' pool key, with a TLS context that also trusts the context's CA bundle (own pools per bundle)."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        bundle = trusted_cas.get()
        if bundle and verify is True and host_params.get("scheme") == "https":
            pool_kwargs["ssl_context"] = context_trusting(bundle)
        return host_params, pool_kwargs

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        """requests' send, noting the answer (or a refused certificate) when the context is recording."""
        heard = answers_heard.get()
        try:
            response = super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        except requests.exceptions.SSLError as exc:
            if heard is not None and is_certificate_error(exc):
                heard.certificate_refused = True
            raise
        if heard is not None:
            heard.answers.append(Answer.of(response, streamed=stream))
        return response


def checked_session(session: requests.Session, adapter: requests.adapters.HTTPAdapter) -> requests.Session:
    """`session` with every http(s) URL through `adapter` and no proxy or .netrc from the environment."""
    session.trust_env = False
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
