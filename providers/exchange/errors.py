"""How exchangelib and transport failures become ProviderErrors (safe to show) or transient failures to retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import requests
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorFolderNotFound,
    ErrorInternalServerError,
    ErrorInternalServerTransientError,
    ErrorInvalidServerVersion,
    ErrorItemNotFound,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    EWSError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.protocol import FailFast

from providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
    ProviderVersionError,
)
from providers.guarded_http import using
from providers.outbound import OutboundPolicy

# errors -------------------------------------------------------------------------------------
T = TypeVar("T")

APP_PASSWORD_HINT = (
    "Exchange refused the login. Check the email, username and password; accounts with two-factor "
    "authentication need an app password instead of the normal password."
)
LOST_FOLDER_ERRORS = (ErrorItemNotFound, ErrorFolderNotFound, ErrorAccessDenied)
CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)


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
    """exchangelib's FailFast, but keeping the status code and Retry-After of throttling and outages."""

    def raise_response_errors(self, response: requests.Response) -> None:
        status = response.status_code
        is_soap = response.content.lstrip().startswith(b"<")
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


def translate(exc: Exception) -> Exception:
    """An exchangelib / transport failure as a ProviderError or a Transient to retry."""
    if isinstance(exc, (ProviderError, Transient, FolderLost)):
        return exc
    if isinstance(exc, UnauthorizedError):
        return ProviderAuthError(APP_PASSWORD_HINT)
    if isinstance(exc, HttpRefusal):
        if exc.status == 429:
            throttled = ProviderRateLimited("Exchange is throttling requests", exc.retry_after)
            return Transient(throttled, exc.retry_after, refused=True)
        return Transient(ProviderUnavailable(f"Exchange answered HTTP {exc.status}"), exc.retry_after)
    if isinstance(exc, ErrorServerBusy):
        hint = float(exc.back_off) if exc.back_off else None
        if str(exc).startswith("Reraised from"):
            return Transient(ProviderUnavailable("Exchange is unavailable"), hint)
        return Transient(ProviderRateLimited("Exchange server is busy", hint), hint, refused=True)
    if isinstance(exc, (ErrorInternalServerError, ErrorInternalServerTransientError, ErrorTimeoutExpired)):
        return Transient(ProviderUnavailable(f"Exchange server error: {type(exc).__name__}"))
    if isinstance(exc, CONNECTION_ERRORS) or (
        isinstance(exc, TransportError) and isinstance(exc.__cause__, CONNECTION_ERRORS)
    ):
        return Transient(ProviderUnavailable("Exchange server unreachable"))
    if isinstance(exc, ErrorInvalidServerVersion):
        return ProviderVersionError("Exchange 2010 SP2 or later is required")
    if isinstance(exc, EWSError):
        return ProviderRequestError(f"Exchange refused the request: {type(exc).__name__}: {exc}")
    return exc


def translated(fn: Callable[[], T], outbound: OutboundPolicy) -> Callable[[], T]:
    def call() -> T:
        try:
            with using(outbound):
                return fn()
        except Exception as exc:
            translated = translate(exc)
            if translated is exc:
                raise
            raise translated from exc

    return call
