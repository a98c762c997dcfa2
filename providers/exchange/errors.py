"""How exchangelib and transport failures become ProviderErrors (safe to show) or transient failures to retry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from exchangelib.errors import (
    CASError,
    ErrorAccessDenied,
    ErrorAccountDisabled,
    ErrorADUnavailable,
    ErrorFolderNotFound,
    ErrorInternalServerError,
    ErrorInternalServerTransientError,
    ErrorInvalidServerVersion,
    ErrorItemNotFound,
    ErrorMailboxMoveInProgress,
    ErrorMailboxStoreUnavailable,
    ErrorNonExistentMailbox,
    ErrorQuotaExceeded,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    EWSError,
    RedirectError,
    ResponseMessageError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.protocol import FailFast

from providers.base import (
    AccountDisabled,
    AccountLockedOut,
    AuthMethodUnsupported,
    CertificateNotTrusted,
    ExchangeOnlineAccount,
    MailboxTemporarilyUnavailable,
    ModernAuthOnly,
    NotAnExchangeEndpoint,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
    ProviderVersionError,
)
from providers.guarded_http import Answers, CaBundleUnreadable, is_certificate_error, recording, using
from providers.outbound import OutboundPolicy

log = logging.getLogger(__name__)

# errors -------------------------------------------------------------------------------------
T = TypeVar("T")

APP_PASSWORD_HINT = (
    "Exchange refused the login. Check the email, username and password; accounts with two-factor "
    "authentication need an app password instead of the normal password."
)
CERTIFICATE_NOT_TRUSTED = (
    "The Exchange server's certificate is not trusted (it is issued by a private CA, self-signed, expired or made "
    "for another host name). Use the EWS URL with the host name on the certificate; if your organisation has its "
    "own certificate authority, ask the administrator of this service to add it with MEETGRAPH_EXCHANGE_CA_BUNDLE."
)
NOT_EWS = (
    "The server at this address answered, but not as Exchange Web Services (it sent a web page or another "
    "service's answer). Enter the EWS URL itself, usually https://mail.example.com/EWS/Exchange.asmx."
)
REDIRECTED_TO_OWA = (
    "This address leads to Outlook on the web, not to Exchange Web Services. Enter the EWS URL, usually the same "
    "host with /EWS/Exchange.asmx (e.g. https://mail.example.com/EWS/Exchange.asmx)."
)
NEGOTIATE_ONLY = (
    "This Exchange server only accepts Windows integrated (Kerberos/Negotiate) sign-in, which cannot be used from "
    "here; we sign in with NTLM or Basic authentication. Ask your Exchange administrator to enable NTLM or Basic "
    "authentication on the EWS virtual directory."
)
MODERN_AUTH_ONLY = (
    "This Exchange server only accepts modern authentication (OAuth) and no passwords. If the mailbox is in "
    "Microsoft 365, connect it as Office 365 instead; otherwise ask your Exchange administrator to enable NTLM or "
    "Basic authentication on the EWS virtual directory."
)
EXCHANGE_ONLINE = (
    "This mailbox is in Exchange Online (Microsoft 365), which no longer accepts passwords for Exchange Web "
    "Services (an app password does not help either). Connect it as Office 365 instead."
)
ACCOUNT_LOCKED = (
    "Exchange says this account is locked. Unlock it first (wait for the lockout to end, sign in to Outlook on the "
    "web, or ask your administrator), then connect again; each further sign-in attempt may prolong the lockout."
)
ACCOUNT_DISABLED = "Exchange says this account is disabled. Ask your Exchange administrator to enable it."
MAILBOX_BUSY = "The Exchange mailbox is temporarily unavailable (being moved or under maintenance); try again later."
SERVER_ERROR = "The Exchange server had an internal error; try again later."
REFUSED = "Exchange refused the request."
REQUEST_ERRORS: dict[type[EWSError], str] = {
    ErrorNonExistentMailbox: "Exchange has no mailbox for this email address; check the email address.",
    ErrorQuotaExceeded: "The Exchange mailbox is full; free some space in it and try again.",
    ErrorAccessDenied: "Exchange denied access to the mailbox or calendar; check the account's permissions.",
}
"""Messages for EWS response codes a user can act on; other refusals are REFUSED (the code is logged)."""
LOST_FOLDER_ERRORS = (ErrorItemNotFound, ErrorFolderNotFound, ErrorAccessDenied)
CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)
TEMPORARY_MAILBOX_ERRORS = (ErrorMailboxMoveInProgress, ErrorMailboxStoreUnavailable, ErrorADUnavailable)
"""Mailbox states that pass on their own (a move, a database failover, AD out of reach): retried, never final."""
ACCOUNT_LOCKED_STATUS = 456
"""Exchange Online's status for a locked account (the EWS Managed API's AccountIsLockedException)."""
LOCKED_OUT_TEXT = "The referenced account is currently locked out"
"""Windows' ERROR_ACCOUNT_LOCKED_OUT text, which some front ends put in the body of a refused login."""
EXCHANGE_ONLINE_DOMAINS = (
    "outlook.com",  # outlook.office365.com's siblings: *.outlook.com (pods, autodiscover-s), Outlook.com
    "office365.com",  # outlook.office365.com (worldwide)
    "outlook.office.com",
    "office365.us",  # outlook.office365.us (GCC High), outlook-dod.office365.us (DoD)
    "webmail.apps.mil",  # DoD
    "outlook.cn",  # partner.outlook.cn (operated by 21Vianet)
    "outlook.office.de",  # Microsoft Cloud Deutschland (retired)
)
"""Host names (and their subdomains) of Exchange Online's EWS endpoints, from Microsoft's published endpoints."""
EXCHANGE_ONLINE_MAIL_DOMAINS = ("onmicrosoft.com", "onmicrosoft.us", "onmschina.cn", "outlook.com", "hotmail.com")
"""Mail domains whose mailboxes are always in Exchange Online (a tenant's initial domain; Outlook.com accounts)."""
PASSWORD_SCHEMES = frozenset({"ntlm", "basic", "digest"})


class Transient(Exception):
    """A failure worth retrying; `error` is what surfaces when the retries run out. `refused` is True when the
    server turned the request away unprocessed (throttling), False when it may have acted on it (timeouts,
    dropped connections, 5xx): such a request is only sent again when that is idempotent."""

    def __init__(self, error: ProviderError, retry_after: float | None = None, *, refused: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after
        self.refused = refused


class HttpRefusal(TransportError):
    """An HTTP-level refusal (429, 5xx without a SOAP body), with the server's Retry-After hint."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class FailFastWithHints(FailFast):
    """exchangelib's FailFast, but keeping the status code and Retry-After of throttling and outages, and telling
    a locked account (Exchange Online's HTTP 456) apart."""

    def raise_response_errors(self, response: requests.Response) -> None:
        status = response.status_code
        is_soap = response.content.lstrip().startswith(b"<")
        if status == ACCOUNT_LOCKED_STATUS:
            raise AccountLockedOut(ACCOUNT_LOCKED)
        if status == 429 or status == 503 or (status >= 500 and not is_soap):
            raise HttpRefusal(status, _retry_after(response))
        super().raise_response_errors(response)  # type: ignore[no-untyped-call]


def _retry_after(response: requests.Response) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return max(0.0, value)


class FolderLost(Exception):
    def __init__(self, folder_id: str) -> None:
        super().__init__(folder_id)
        self.folder_id = folder_id


def is_exchange_online(url: str) -> bool:
    """Whether `url` (or a bare host name) is an Exchange Online endpoint."""
    host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower().rstrip(".")
    return any(host == domain or host.endswith(f".{domain}") for domain in EXCHANGE_ONLINE_DOMAINS)


def is_exchange_online_mailbox(email: str) -> bool:
    """Whether the address's domain only ever has mailboxes in Exchange Online."""
    domain = email.rpartition("@")[2].lower().rstrip(".")
    return any(domain == d or domain.endswith(f".{d}") for d in EXCHANGE_ONLINE_MAIL_DOMAINS)


def heard_verdict(heard: Answers) -> ProviderError | None:
    """What the servers' answers during a failed call say went wrong, when they say it (first match wins): an
    untrusted certificate, a locked account, a redirect to Exchange Online or to Outlook on the web, a login
    challenge without a password method we speak, a Microsoft web server (an Exchange host at the wrong path)
    answering something else than EWS. Other answers (any other web server, a redirect elsewhere) say nothing:
    telling them from a closed port would map which hosts of an allowed network run a web server."""
    if heard.certificate_refused:
        return CertificateNotTrusted(CERTIFICATE_NOT_TRUSTED)
    answers = heard.answers
    if any(a.status == ACCOUNT_LOCKED_STATUS for a in answers):
        return AccountLockedOut(ACCOUNT_LOCKED)
    redirects = [a for a in answers if a.redirect_target]
    if any(is_exchange_online(a.redirect_target) for a in redirects):
        return ExchangeOnlineAccount(EXCHANGE_ONLINE)
    if any(urlsplit(a.redirect_target).path.lower().startswith("/owa") for a in redirects):
        return NotAnExchangeEndpoint(REDIRECTED_TO_OWA)
    challenges = [a for a in answers if a.status == 401 and a.auth_schemes]
    if challenges and not any(a.auth_schemes & PASSWORD_SCHEMES for a in challenges):
        offered = frozenset().union(*(a.auth_schemes for a in challenges))
        if "bearer" in offered:
            return ModernAuthOnly(MODERN_AUTH_ONLY)
        return AuthMethodUnsupported(NEGOTIATE_ONLY)
    if any(a.is_xml for a in answers):
        return None  # EWS answered: its own error says what went wrong
    if any(a.from_microsoft and (a.status < 300 or 400 <= a.status < 500) for a in answers):
        return NotAnExchangeEndpoint(NOT_EWS)
    return None  # another kind of server, or a redirect elsewhere: answered like an unreachable one


def translate(exc: Exception, heard: Answers | None = None) -> Exception:
    """An exchangelib / transport failure as a ProviderError or a Transient to retry. `heard`: what the servers
    answered during the failed call, which tells apart failures exchangelib reports alike."""
    if isinstance(exc, (ProviderError, Transient, FolderLost)):
        return exc
    if isinstance(exc, CaBundleUnreadable):
        log.error("%s", exc)
        return ProviderUnavailable("The Exchange CA bundle of this service cannot be read; tell its administrator.")
    verdict = heard_verdict(heard) if heard is not None and not isinstance(exc, ResponseMessageError) else None
    if verdict is None and is_certificate_error(exc):
        verdict = CertificateNotTrusted(CERTIFICATE_NOT_TRUSTED)
    if verdict is not None:
        return verdict
    if isinstance(exc, UnauthorizedError):
        if LOCKED_OUT_TEXT in str(exc):
            return AccountLockedOut(ACCOUNT_LOCKED)
        return ProviderAuthError(APP_PASSWORD_HINT)
    if isinstance(exc, ErrorAccountDisabled):
        return AccountDisabled(ACCOUNT_DISABLED)
    if isinstance(exc, RedirectError) and is_exchange_online(exc.url):
        return ExchangeOnlineAccount(EXCHANGE_ONLINE)
    if isinstance(exc, HttpRefusal):
        if exc.status == 429:
            throttled = ProviderRateLimited("Exchange is throttling requests; try again later.", exc.retry_after)
            return Transient(throttled, exc.retry_after, refused=True)
        return Transient(ProviderUnavailable(SERVER_ERROR), exc.retry_after)
    if isinstance(exc, ErrorServerBusy):
        hint = float(exc.back_off) if exc.back_off else None
        if str(exc).startswith("Reraised from"):
            return Transient(ProviderUnavailable("The Exchange server is unavailable; try again later."), hint)
        busy = ProviderRateLimited("The Exchange server is busy; try again later.", hint)
        return Transient(busy, hint, refused=True)
    if isinstance(exc, TEMPORARY_MAILBOX_ERRORS):
        return Transient(MailboxTemporarilyUnavailable(MAILBOX_BUSY), refused=True)
    if isinstance(exc, (ErrorInternalServerError, ErrorInternalServerTransientError, ErrorTimeoutExpired)):
        return Transient(ProviderUnavailable(SERVER_ERROR))
    if isinstance(exc, CONNECTION_ERRORS) or (
        isinstance(exc, TransportError) and isinstance(exc.__cause__, CONNECTION_ERRORS)
    ):
        return Transient(ProviderUnavailable("The Exchange server could not be reached; try again later."))
    if isinstance(exc, ErrorInvalidServerVersion):
        return ProviderVersionError("Exchange 2010 SP2 or later is required")
    if isinstance(exc, CASError):
        log.info("Exchange front end refused the request: %s", exc.cas_error)
        return ProviderRequestError(REFUSED)
    if isinstance(exc, EWSError):
        log.info("Exchange refused the request: %s: %s", type(exc).__name__, exc)
        return ProviderRequestError(next((m for k, m in REQUEST_ERRORS.items() if isinstance(exc, k)), REFUSED))
    return exc


def translated(fn: Callable[[], T], outbound: OutboundPolicy, ca_bundle: str | None = None) -> Callable[[], T]:
    """`fn` with its connections following `outbound` (and trusting `ca_bundle`), its failures translated."""

    def call() -> T:
        with recording() as heard:
            try:
                with using(outbound, ca_bundle=ca_bundle):
                    return fn()
            except Exception as exc:
                translated = translate(exc, heard)
                if translated is exc:
                    raise
                raise translated from exc

    return call
