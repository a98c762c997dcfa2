"""Expected failures: raised by product rules and resolvers, turned into typed GraphQL errors by the schema."""

from __future__ import annotations


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


class ProviderFailure(UserError):
    pass


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
