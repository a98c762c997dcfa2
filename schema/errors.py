"""Typed errors: every expected failure is a member of a mutation's result union."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An expected failure; clients branch on __typename.")
class Error:
    message: str


@strawberry.type
class ValidationError(Error):
    field: str | None = None


@strawberry.type
class NotFoundError(Error):
    pass


@strawberry.type
class PermissionRequiredError(Error):
    pass


@strawberry.type
class LicenseRequiredError(Error):
    pass


@strawberry.type
class SharedInboxError(Error):
    pass


@strawberry.type
class ConnectionLimitError(Error):
    pass


@strawberry.type
class ProviderError(Error):
    pass


@strawberry.type
class ExchangeVersionError(Error):
    pass


@strawberry.type
class SlugTakenError(Error):
    pass


@strawberry.type
class UnsupportedOperationError(Error):
    pass


@strawberry.type
class SlotUnavailableError(Error):
    pass


@strawberry.type
class CalendarAccessLostError(Error):
    pass


@strawberry.type
class PagesDisabledError(Error):
    pass


@strawberry.type(
    description="The domain's DNS TXT record was not found or did not match; the message says what to publish where."
)
class DomainVerificationError(Error):
    pass
