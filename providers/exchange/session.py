"""exchangelib sessions: the checked transport, opened Accounts (cached per mailbox), autodiscover, and the runtime
the blocking calls run in (its own bounded threads, a limit and a circuit breaker per EWS endpoint), with retries."""

from __future__ import annotations

import asyncio
import enum
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from exchangelib import DELEGATE, Account, Configuration
from exchangelib.autodiscover import Autodiscovery
from exchangelib.autodiscover.protocol import AutodiscoverProtocol
from exchangelib.errors import (
    AutoDiscoverCircularRedirect,
    AutoDiscoverError,
    ErrorMailboxMoveInProgress,
    ErrorNonExistentMailbox,
    RedirectError,
)
from exchangelib.ewsdatetime import UTC
from exchangelib.folders import Calendar, Root
from exchangelib.properties import DistinguishedFolderId, Mailbox
from exchangelib.protocol import BaseProtocol, Protocol
from exchangelib.util import get_domain
from exchangelib.version import EXCHANGE_2010_SP2

from providers.base import (
    ProviderRequestError,
    ProviderUnavailable,
    ProviderVersionError,
)
from providers.exchange.credentials import ExchangeCredentials
from providers.exchange.errors import FailFastWithHints, Transient, translated
from providers.guarded_http import CheckedHTTPAdapter, checked_session
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy

T = TypeVar("T")

HTTP_TIMEOUT_SECONDS = 30
"""Longest wait for an answer once connected (the read timeout)."""
CONNECT_TIMEOUT_SECONDS = 5.0
MAX_CONNECTIONS = 4
CACHED_ACCOUNTS = 256
"""Most opened mailboxes an ExchangeAccounts cache keeps (least recently used ones are closed)."""


def install_checked_transport() -> None:
    """Every session exchangelib opens (EWS, autodiscover, auth probes, for any URL it is redirected to) checks each
    connection against the context's OutboundPolicy (providers/guarded_http.py). exchangelib mounts its adapter on
    the endpoint's URL only; the checked one is also mounted on http:// and https:// so no URL escapes it."""
    if BaseProtocol.HTTP_ADAPTER_CLS is CheckedHTTPAdapter:
        return
    raw_session = BaseProtocol.raw_session.__func__

    def checked_raw_session(cls: type[BaseProtocol], prefix: str, *args: object, **kwargs: object) -> requests.Session:
        return checked_session(raw_session(cls, prefix, *args, **kwargs), cls.get_adapter())

    BaseProtocol.HTTP_ADAPTER_CLS = CheckedHTTPAdapter
    BaseProtocol.raw_session = classmethod(checked_raw_session)


install_checked_transport()


Monotonic = Callable[[], float]

UNANSWERED_MESSAGE = "The Exchange server is not answering; try again in a few minutes"
BUSY_MESSAGE = "The Exchange server is busy with other requests from us; try again in a few minutes"
DISCOVERY_TTL_SECONDS = 24 * 3600.0


def endpoint_of(url: str) -> str:
    """The EWS endpoint a URL belongs to, as limits and breakers count it: scheme, host and port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it was raised from (or while handling), outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def not_answering(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) is the server not answering: a refused or timed-out connection,
    a read timeout, a dropped connection. A refused login, a SOAP error or a bad certificate is an answer."""
    for cause in causes(exc):
        if isinstance(cause, requests.exceptions.SSLError):
            return False
        if isinstance(cause, (requests.ConnectionError, requests.Timeout, TimeoutError, ConnectionError)):
            return True
    return False


MOVED_ERRORS = (ErrorNonExistentMailbox, ErrorMailboxMoveInProgress, RedirectError)


def mailbox_moved(exc: BaseException) -> bool:
    """Whether the EWS URL answered that the mailbox is not (or no longer) there: autodiscover may know better."""
    return any(isinstance(cause, MOVED_ERRORS) for cause in causes(exc))


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """One EWS endpoint's breaker: `threshold` consecutive calls the server did not answer open it for `cooldown`
    seconds (calls fail fast, no thread used); then one probe goes through (half-open) and its outcome closes or
    reopens it. Used from the event loop only."""

    def __init__(self, *, threshold: int, cooldown: float, clock: Monotonic) -> None:
        self.threshold, self.cooldown, self.clock = threshold, cooldown, clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.probing = False

    def admit(self) -> bool:
        """Whether a call may go to the server now (in half-open, only the one probe)."""
        if self.state is BreakerState.OPEN and self.clock() - self.opened_at >= self.cooldown:
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def record(self, *, answered: bool) -> None:
        """The outcome of an admitted call."""
        self.probing = False
        if answered:
            self.state, self.failures = BreakerState.CLOSED, 0
            return
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self.state, self.opened_at = BreakerState.OPEN, self.clock()

    def abandon(self) -> None:
        """An admitted call that never reached the server (it gave up waiting for its turn)."""
        self.probing = False


class DiscoveredUrls:
    """Autodiscover's answers (EWS URL per mailbox), kept `ttl` seconds."""

    def __init__(self, *, ttl: float, clock: Monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._urls: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, email: str, autodiscover_url: str | None) -> str | None:
        key = (email.lower(), autodiscover_url or "")
        found = self._urls.get(key)
        if found is None or found[1] <= self.clock():
            self._urls.pop(key, None)
            return None
        return found[0]

    def put(self, email: str, autodiscover_url: str | None, ews_url: str) -> None:
        self._urls[(email.lower(), autodiscover_url or "")] = (ews_url, self.clock() + self.ttl)

    def forget(self, email: str, autodiscover_url: str | None) -> None:
        self._urls.pop((email.lower(), autodiscover_url or ""), None)


class ExchangeRuntime:
    """Where exchangelib's blocking calls run: a bounded executor of its own (never asyncio's default pool, which
    DNS lookups and other work share), at most `server_concurrency` threads per EWS endpoint (taken before a thread
    is: a waiter gives up after `wait_seconds` with ProviderUnavailable), a circuit breaker per endpoint, the HTTP
    timeouts (connect, read) and autodiscover's cached answers. Created by the app wiring, closed at stop."""

    def __init__(
        self,
        *,
        threads: int = 16,
        server_concurrency: int = 4,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = HTTP_TIMEOUT_SECONDS,
        wait_seconds: float = 30.0,
        breaker_threshold: int = 3,
        breaker_cooldown: float = 30.0,
        discovery_ttl: float = DISCOVERY_TTL_SECONDS,
        clock: Monotonic = time.monotonic,
    ) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="exchange")
        self.server_concurrency = server_concurrency
        self.timeout = (connect_timeout, read_timeout)
        self.wait_seconds = wait_seconds
        self.breaker_threshold, self.breaker_cooldown, self.clock = breaker_threshold, breaker_cooldown, clock
        self.discovered = DiscoveredUrls(ttl=discovery_ttl, clock=clock)
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, endpoint: str) -> CircuitBreaker:
        if endpoint not in self._breakers:
            self._breakers[endpoint] = CircuitBreaker(
                threshold=self.breaker_threshold, cooldown=self.breaker_cooldown, clock=self.clock
            )
        return self._breakers[endpoint]

    def _limit(self, endpoint: str) -> asyncio.Semaphore:
        return self._limits.setdefault(endpoint, asyncio.Semaphore(self.server_concurrency))

    async def call(self, endpoint: str, fn: Callable[[], T]) -> T:
        """`fn` in one of the runtime's threads, counted against `endpoint`'s limit and breaker. The endpoint's slot
        is freed, and the outcome recorded, when the thread is done (not when a cancelled caller stops waiting)."""
        breaker = self.breaker(endpoint)
        if not breaker.admit():
            raise ProviderUnavailable(UNANSWERED_MESSAGE)
        limit = self._limit(endpoint)
        try:
            await asyncio.wait_for(limit.acquire(), self.wait_seconds)
        except TimeoutError:
            breaker.abandon()
            raise ProviderUnavailable(BUSY_MESSAGE) from None
        except BaseException:
            breaker.abandon()
            raise
        try:
            future = asyncio.get_running_loop().run_in_executor(self.executor, fn)
        except BaseException:
            limit.release()
            breaker.abandon()
            raise

        def done(finished: asyncio.Future[T]) -> None:
            limit.release()
            failure = None if finished.cancelled() else finished.exception()
            breaker.record(answered=failure is None or not not_answering(failure))

        future.add_done_callback(done)
        return await asyncio.shield(future)

    def close(self) -> None:
        """Stop taking work; threads still waiting on a server end with their own timeouts."""
        self.executor.shutdown(wait=False, cancel_futures=True)


async def with_retry(
    policy: RetryPolicy,
    fn: Callable[[], T],
    outbound: OutboundPolicy,
    *,
    runtime: ExchangeRuntime,
    endpoint: str,
    idempotent: bool = True,
    ca_bundle: str | None = None,
) -> T:
    """Run blocking `fn` on `runtime` (counted against `endpoint`), its connections checked against `outbound`
    (trusting `ca_bundle`'s CAs besides the system's), retrying transient failures per `policy`. When `fn` is not
    idempotent (a create without a key), only failures the server refused unprocessed are retried. An open breaker
    fails at once (ProviderUnavailable, not retried)."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await runtime.call(endpoint, translated(fn, outbound, ca_bundle))
        except Transient as transient:
            if not idempotent and not transient.refused:
                raise transient.error from transient
            delay = transient.retry_after if transient.retry_after is not None else policy.backoff(attempt)
            if attempt >= policy.attempts or time.monotonic() - started + delay > policy.total_seconds:
                raise transient.error from transient
            await policy.sleep(delay)


# exchangelib plumbing ------------------------------------------------------------------------
Timeout = float | tuple[float, float]
"""requests' timeout: one number, or (connect, read)."""


def open_account(
    credentials: ExchangeCredentials, timeout: Timeout = (CONNECT_TIMEOUT_SECONDS, HTTP_TIMEOUT_SECONDS)
) -> Account:
    if not credentials.ews_url:
        raise ValueError("the EWS URL must be resolved before opening the account")
    config = Configuration(
        service_endpoint=credentials.ews_url,
        credentials=credentials.ews_credentials(),
        retry_policy=FailFastWithHints(),
        max_connections=MAX_CONNECTIONS,
    )
    account = Account(
        primary_smtp_address=credentials.email,
        config=config,
        autodiscover=False,
        access_type=DELEGATE,
        default_timezone=UTC,
    )
    # Instance attributes on the (cached) protocol: bounded HTTP timeouts and no invented back-off hints. exchangelib
    # hands TIMEOUT to requests as is, so a (connect, read) tuple gives a short connect timeout.
    account.protocol.TIMEOUT = timeout
    account.protocol.RETRY_WAIT = 0
    return account


def close_protocol(protocol: Protocol) -> None:
    """Close the protocol's pooled sessions and drop it from exchangelib's own protocol cache."""
    protocol.close()
    with suppress(KeyError):
        del Protocol[protocol.config]


class ExchangeAccounts:
    """Opened exchangelib Accounts shared by every request of the process, keyed by EWS URL + credentials.

    Opening an Account per request repeats, before each real call, the auth-type probe, the server version guess
    (ConvertId) and the well-known folder lookups (GetFolder), each a sequential round trip; kept here (by the app
    wiring, Services) they are paid once per mailbox. Thread-safe: accounts are used from worker threads.
    """

    def __init__(
        self, max_size: int = CACHED_ACCOUNTS, timeout: Timeout = (CONNECT_TIMEOUT_SECONDS, HTTP_TIMEOUT_SECONDS)
    ) -> None:
        self._max_size = max_size
        self._timeout = timeout
        self._accounts: OrderedDict[str, Account] = OrderedDict()
        self._lock = threading.Lock()
        self._create_locks: dict[str, threading.Lock] = {}

    @staticmethod
    def fingerprint(credentials: ExchangeCredentials) -> str:
        """The cache key: a digest (not the password itself) of the endpoint, mailbox and login."""
        parts = (credentials.ews_url or "", credentials.email.lower(), credentials.username or "", credentials.password)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def __len__(self) -> int:
        return len(self._accounts)

    def get(self, credentials: ExchangeCredentials) -> Account:
        """The cached account for `credentials`, opened (lazily: no request is sent yet) when missing."""
        key = self.fingerprint(credentials)
        with self._lock:
            account = self._accounts.get(key)
            if account is not None:
                self._accounts.move_to_end(key)
                return account
            account = open_account(credentials, self._timeout)
            self._accounts[key] = account
            dropped = [self._accounts.popitem(last=False)[1] for _ in range(len(self._accounts) - self._max_size)]
            closing = self._unused_protocols(dropped)
        for protocol in closing:
            close_protocol(protocol)
        return account

    def create_lock(self, credentials: ExchangeCredentials) -> threading.Lock:
        """The lock that serializes this process's keyed creates in one mailbox (lookup, then CreateItem)."""
        with self._lock:
            return self._create_locks.setdefault(self.fingerprint(credentials), threading.Lock())

    def discard(self, credentials: ExchangeCredentials, account: Account) -> None:
        """Forget `account` (e.g. after the server refused the login), if it is still the cached one."""
        key = self.fingerprint(credentials)
        with self._lock:
            if self._accounts.get(key) is not account:
                return
            del self._accounts[key]
            closing = self._unused_protocols([account])
        for protocol in closing:
            close_protocol(protocol)

    def close(self) -> None:
        """Close every cached account's sessions (at shutdown)."""
        with self._lock:
            accounts = list(self._accounts.values())
            self._accounts.clear()
            closing = self._unused_protocols(accounts)
        for protocol in closing:
            close_protocol(protocol)

    def _unused_protocols(self, removed: list[Account]) -> list[Protocol]:
        """Protocols of `removed` accounts that no cached account still uses (exchangelib shares one protocol
        between accounts with the same endpoint and login)."""
        in_use = {id(account.protocol) for account in self._accounts.values()}
        unused: dict[int, Protocol] = {}
        for account in removed:
            if id(account.protocol) not in in_use:
                unused[id(account.protocol)] = account.protocol
        return list(unused.values())


def mailbox_root(account: Account) -> Root:
    """The mailbox's root folder by well-known id, without a request: exchangelib's `account.root` and
    `account.calendar` are resolved under one lock per property shared by every Account of the process, held across
    their GetFolder round trips, so one unanswering server would stall every other tenant's first call."""
    mailbox = Mailbox(email_address=account.primary_smtp_address)
    return Root(
        account=account, _distinguished_id=DistinguishedFolderId(id=Root.DISTINGUISHED_FOLDER_ID, mailbox=mailbox)
    )


def primary_calendar(account: Account) -> Calendar:
    """The primary Calendar folder (one GetFolder on DistinguishedFolderId "calendar", no process-wide lock)."""
    return Calendar.get_distinguished(root=mailbox_root(account))


def calendar_folder(account: Account, calendar_id: str) -> Calendar:
    """A calendar folder by id, without a request."""
    return Calendar(root=mailbox_root(account), id=calendar_id)


class NotDiscovered(ProviderRequestError):
    """Autodiscover answered, without an EWS URL for the account."""


class UnlockedAutodiscovery(Autodiscovery):  # type: ignore[misc]
    """exchangelib's DNS-based autodiscover steps, without its process-wide cache: exchangelib holds that cache's
    lock across every step (DNS, HTTP, redirects), so one server that never answers stalls every other tenant's
    autodiscover. Answers are cached per mailbox by ExchangeRuntime.discovered instead."""

    def discover(self) -> tuple[Any, Protocol]:
        email = str(self.__dict__["email"])
        self._emails_visited.append(email.lower())
        ad = self._step_1(hostname=get_domain(email))
        if ad.redirect_address:
            if ad.redirect_address.lower() in self._emails_visited:
                raise AutoDiscoverCircularRedirect("We were redirected to an email address we have already seen")
            self.email = ad.redirect_address
            return self.discover()
        self.clear()
        return self._build_response(ad_response=ad)


def autodiscover(
    credentials: ExchangeCredentials,
    autodiscover_url: str | None,
    timeout: Timeout = (CONNECT_TIMEOUT_SECONDS, HTTP_TIMEOUT_SECONDS),
) -> str:
    """The EWS URL for the account: SOAP autodiscover at `autodiscover_url`, else the DNS-based steps."""
    try:
        if autodiscover_url:
            protocol = AutodiscoverProtocol(
                config=Configuration(
                    service_endpoint=autodiscover_url,
                    credentials=credentials.ews_credentials(),
                    retry_policy=FailFastWithHints(),
                )
            )
            protocol.TIMEOUT = timeout
            try:
                response = protocol.get_user_settings(
                    user=credentials.email,
                    settings=["external_ews_url", "internal_ews_url", "auto_discover_smtp_address"],
                )
            finally:
                protocol.close()
            response.raise_errors()
            url = response.ews_url or response.user_settings.get("internal_ews_url")
        else:
            ad_response, _ = UnlockedAutodiscovery(
                email=credentials.email, credentials=credentials.ews_credentials()
            ).discover()
            url = ad_response.ews_url
    except (AutoDiscoverError, ErrorNonExistentMailbox) as exc:
        raise NotDiscovered(
            f"Autodiscover could not find the Exchange server for {credentials.email}; enter the EWS URL"
        ) from exc
    if not url:
        raise NotDiscovered(f"Autodiscover returned no EWS URL for {credentials.email}; enter the EWS URL")
    return str(url)


async def discover_ews_url(
    credentials: ExchangeCredentials,
    autodiscover_url: str | None,
    *,
    policy: RetryPolicy,
    outbound: OutboundPolicy,
    runtime: ExchangeRuntime | None,
    fresh: bool = False,
    ca_bundle: str | None = None,
) -> str:
    """autodiscover on `runtime`, its answer kept for the runtime's discovery TTL; `fresh` asks again (the server
    said the mailbox moved). Without a runtime, on a small one of its own, closed after."""
    if runtime is None:
        own = ExchangeRuntime(threads=1)
        try:
            return await discover_ews_url(
                credentials, autodiscover_url, policy=policy, outbound=outbound, runtime=own, ca_bundle=ca_bundle
            )
        finally:
            own.close()
    if fresh:
        runtime.discovered.forget(credentials.email, autodiscover_url)
    cached = runtime.discovered.get(credentials.email, autodiscover_url)
    if cached is not None:
        return cached
    endpoint = endpoint_of(autodiscover_url or f"https://{get_domain(credentials.email)}/")
    url = await with_retry(
        policy,
        lambda: autodiscover(credentials, autodiscover_url, runtime.timeout),
        outbound,
        runtime=runtime,
        endpoint=endpoint,
        ca_bundle=ca_bundle,
    )
    runtime.discovered.put(credentials.email, autodiscover_url, url)
    return url


def check_version(account: Account) -> None:
    version = account.protocol.version
    if version.build is None or version.build < EXCHANGE_2010_SP2:
        raise ProviderVersionError(
            f"Exchange 2010 SP2 or later is required; this server runs {version.fullname} ({version.build})"
        )
