"""exchangelib sessions: the checked transport, opened Accounts (cached per mailbox), autodiscover, and the
thread the blocking calls run in, with retries."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

import requests
from exchangelib import DELEGATE, Account, Configuration
from exchangelib.autodiscover import Autodiscovery
from exchangelib.autodiscover.protocol import AutodiscoverProtocol
from exchangelib.errors import (
    AutoDiscoverError,
    ErrorNonExistentMailbox,
)
from exchangelib.ewsdatetime import UTC
from exchangelib.protocol import BaseProtocol, Protocol
from exchangelib.version import EXCHANGE_2010_SP2

from providers.base import (
    ProviderRequestError,
    ProviderVersionError,
)
from providers.exchange.credentials import ExchangeCredentials
from providers.exchange.errors import FailFastWithHints, Transient, translated
from providers.guarded_http import CheckedHTTPAdapter, checked_session
from providers.http import RetryPolicy
from providers.outbound import OutboundPolicy

T = TypeVar("T")

HTTP_TIMEOUT_SECONDS = 30
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


async def with_retry(
    policy: RetryPolicy,
    fn: Callable[[], T],
    outbound: OutboundPolicy,
    *,
    idempotent: bool = True,
    ca_bundle: str | None = None,
) -> T:
    """Run blocking `fn` in a worker thread, its connections checked against `outbound` (trusting `ca_bundle`'s CAs
    besides the system's), retrying transient failures per `policy`. When `fn` is not idempotent (a create without a key), only failures the server refused unprocessed
    are retried."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await asyncio.to_thread(translated(fn, outbound, ca_bundle))
        except Transient as transient:
            if not idempotent and not transient.refused:
                raise transient.error from transient
            delay = transient.retry_after if transient.retry_after is not None else policy.backoff(attempt)
            if attempt >= policy.attempts or time.monotonic() - started + delay > policy.total_seconds:
                raise transient.error from transient
            await policy.sleep(delay)


# exchangelib plumbing ------------------------------------------------------------------------
def open_account(credentials: ExchangeCredentials) -> Account:
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
    # Instance attributes on the (cached) protocol: bounded HTTP timeouts and no invented back-off hints.
    account.protocol.TIMEOUT = HTTP_TIMEOUT_SECONDS
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

    def __init__(self, max_size: int = CACHED_ACCOUNTS) -> None:
        self._max_size = max_size
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
            account = open_account(credentials)
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


class NotDiscovered(ProviderRequestError):
    """Autodiscover answered, without an EWS URL for the account."""


def autodiscover(credentials: ExchangeCredentials, autodiscover_url: str | None) -> str:
    """The EWS URL for the account: SOAP autodiscover at `autodiscover_url`, else exchangelib's DNS-based steps."""
    try:
        if autodiscover_url:
            protocol = AutodiscoverProtocol(
                config=Configuration(
                    service_endpoint=autodiscover_url,
                    credentials=credentials.ews_credentials(),
                    retry_policy=FailFastWithHints(),
                )
            )
            protocol.TIMEOUT = HTTP_TIMEOUT_SECONDS
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
            ad_response, _ = Autodiscovery(
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


def check_version(account: Account) -> None:
    version = account.protocol.version
    if version.build is None or version.build < EXCHANGE_2010_SP2:
        raise ProviderVersionError(
            f"Exchange 2010 SP2 or later is required; this server runs {version.fullname} ({version.build})"
        )
