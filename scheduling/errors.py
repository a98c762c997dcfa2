"""Expected failures: raised by product rules and resolvers, turned into typed GraphQL errors by the schema."""

from __future__ import annotations

from enum import Enum


class UserError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(UserError):
    pass


class NotFound(UserError):
    pass


class PermissionRequired(UserError):
    pass


class LicenseRequired(UserError):
    pass


class SharedInbox(UserError):
    pass


class ConnectionLimit(UserError):
    pass


class ProviderFailureReason(Enum):
    """Why a calendar server refused, when the user can act on it (see schema ProviderErrorReason)."""

    LOGIN_REFUSED = "login_refused"
    ACCOUNT_LOCKED_OUT = "account_locked_out"
    ACCOUNT_DISABLED = "account_disabled"
    CERTIFICATE_NOT_TRUSTED = "certificate_not_trusted"
    NOT_EXCHANGE_ENDPOINT = "not_exchange_endpoint"
    UNSUPPORTED_AUTHENTICATION = "unsupported_authentication"
    MODERN_AUTH_ONLY = "modern_auth_only"
    EXCHANGE_ONLINE = "exchange_online"
    UNREACHABLE = "unreachable"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"


class ProviderFailure(UserError):
    def __init__(self, message: str, reason: ProviderFailureReason | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class ExchangeVersion(UserError):
    pass


class SlugTaken(UserError):
    pass


class Unsupported(UserError):
    pass


class SlotUnavailable(UserError):
    pass


class AccessLost(UserError):
    pass


class PagesDisabled(UserError):
    pass


class DomainUnverified(UserError):
    """The DNS does not hold (or could not be asked whether it holds) a domain's verification record."""


class CalendarNotReadable(UserError):
    """Another mailbox's calendar the connected account cannot read with event details (or no such mailbox)."""
