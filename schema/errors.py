"""Typed errors: every expected failure is a member of a mutation's result union."""

from __future__ import annotations

import strawberry

from scheduling.errors import ProviderFailureReason
from schema.base import _graphql_enum

MESSAGE = "What went wrong, in English. Branch on __typename, never on this text."


@strawberry.interface(
    description=(
        "An expected failure; clients branch on __typename. Select `... on Error { message }` in every "
        "mutation (Apollo Client needs possibleTypes for it: see possibleTypes.json)."
    )
)
class Error:
    message: str = strawberry.field(description=MESSAGE)


@strawberry.type(description="An input was refused: a malformed or out-of-range value, or one that breaks a rule.")
class ValidationError(Error):
    field: str | None = strawberry.field(
        default=None,
        description=(
            "The input field at fault as the client named it (`email`, `durationMinutes`, "
            "`weeklyHours[2].end`); null when the error concerns the request as a whole."
        ),
    )


@strawberry.type(description="The object named by id does not exist, or is not the caller's to see or change.")
class NotFoundError(Error):
    pass


@strawberry.type(
    description=(
        "The caller lacks a permission: connecting a calendar or inbox needs the user's personal email "
        "access; createUser needs the admin token."
    )
)
class PermissionRequiredError(Error):
    pass


@strawberry.type(
    description=(
        "The user's seat does not include the feature: task sync needs a paid Sales or Service Hub seat, "
        "Professional or Enterprise; a meeting URL prefix needs one of Starter or above."
    )
)
class LicenseRequiredError(Error):
    pass


@strawberry.type(
    description="The address is connected as a shared inbox of the account; only personal inboxes can be connected."
)
class SharedInboxError(Error):
    pass


@strawberry.type(
    description=(
        "The user already has a calendar account connected (two for users created before 2023-03-13); "
        "disconnect one first."
    )
)
class ConnectionLimitError(Error):
    pass


R = ProviderFailureReason
ProviderErrorReason = _graphql_enum(
    ProviderFailureReason,
    name="ProviderErrorReason",
    description="Why the calendar server refused, when the user can act on it; the message says what to do.",
    values={
        R.LOGIN_REFUSED: "The server refused the email/username and password.",
        R.ACCOUNT_LOCKED_OUT: (
            "The server says the account is locked (too many failed sign-ins); unlock it before trying again."
        ),
        R.ACCOUNT_DISABLED: "The server says the account is disabled; its administrator must enable it.",
        R.CERTIFICATE_NOT_TRUSTED: (
            "The server's TLS certificate is not trusted (private CA, self-signed, expired or for another "
            "host name); an operator can trust a private CA with MEETGRAPH_EXCHANGE_CA_BUNDLE."
        ),
        R.NOT_EXCHANGE_ENDPOINT: (
            "The server answered, but not as Exchange Web Services (a web page, a redirect to Outlook on the "
            "web): the URL is not the EWS URL."
        ),
        R.UNSUPPORTED_AUTHENTICATION: (
            "The server offers no password sign-in we speak (only Kerberos/Negotiate); NTLM or Basic is needed."
        ),
        R.MODERN_AUTH_ONLY: "The server accepts OAuth (modern authentication) only, no passwords.",
        R.EXCHANGE_ONLINE: (
            "The mailbox is in Exchange Online (Microsoft 365), which takes no passwords: connect it as Office 365."
        ),
        R.UNREACHABLE: "No Exchange server answered at the address (the cause is not told).",
        R.TEMPORARILY_UNAVAILABLE: "The server or mailbox is briefly unavailable (busy, being moved); try again later.",
    },
)


@strawberry.type(
    description=(
        "A calendar provider refused or could not be reached (login refused, authorization refused, "
        "calendar unavailable); trying again later may succeed."
    )
)
class ProviderError(Error):
    reason: ProviderFailureReason | None = strawberry.field(
        default=None,
        description=(
            "Why, when the user can act on it (set by connectExchangeCalendar); null otherwise. Clients may "
            "branch on it; new values may be added."
        ),
    )


@strawberry.type(description="The Exchange server is older than Exchange 2010 SP2, which is needed.")
class ExchangeVersionError(Error):
    pass


@strawberry.type(
    description=(
        "The name is taken: a scheduling page slug (slugs are unique across all domains) or a host name "
        "already connected as a domain."
    )
)
class SlugTakenError(Error):
    pass


@strawberry.type(
    description=(
        "The connection's provider cannot do this, e.g. cancel a meeting in an Exchange-linked calendar "
        "(see ConnectionCapabilities)."
    )
)
class UnsupportedOperationError(Error):
    pass


@strawberry.type(
    description=(
        "The chosen time is not offered (outside weekly hours, busy, too soon) or was just booked by "
        "someone else; offer the visitor fresh availableSlots."
    )
)
class SlotUnavailableError(Error):
    pass


@strawberry.type(
    description=(
        "Access to one of the page owner's availability calendars is lost, so nobody can book until the "
        "owner reconnects or removes it; the owner is emailed."
    )
)
class CalendarAccessLostError(Error):
    pass


@strawberry.type(description="The page owner has deactivated their scheduling pages; bookings are refused.")
class PagesDisabledError(Error):
    pass


@strawberry.type(
    description="The domain's DNS TXT record was not found or did not match; the message says what to publish where."
)
class DomainVerificationError(Error):
    pass


@strawberry.type(
    description=(
        "The connected account cannot read that mailbox's calendar with event details: no such mailbox, the "
        "calendar is not shared with the account, or only free/busy is shared. Its owner must share it with at "
        "least Reviewer permission (can view all details); nothing was added."
    )
)
class CalendarNotSharedError(Error):
    pass
