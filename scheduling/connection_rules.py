"""Connecting a calendar (SPEC "Connecting a calendar").

- Connecting needs the user's personal email access permission.
- Only personal inboxes can be connected; an address connected as a shared inbox cannot.
- One calendar account per user; users created before LEGACY_DUAL_ACCOUNT_CUTOFF may hold two, until
  they remove one of them.
- Connecting Google or Office 365 turns calendar sync and scheduling pages on (Exchange has no two-way sync).
- Exchange connects with email and password (username and EWS URL optional).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Collection
from datetime import datetime
from urllib.parse import urlsplit

from scheduling.calendars import ProviderKind
from scheduling.errors import ConnectionLimit, InvalidInput, PermissionRequired, SharedInbox

LEGACY_DUAL_ACCOUNT_CUTOFF = datetime.fromisoformat("2023-03-13T00:00:00+00:00")
"""Users created before this may keep two calendar accounts (one for calendar, one for meeting settings)."""

PERMISSION_MESSAGE = "Connecting a calendar needs the personal email access permission."
ONE_ACCOUNT_MESSAGE = "Only one calendar account can be connected; disconnect the current one first."
LEGACY_TWO_MESSAGE = (
    f"Users created before {LEGACY_DUAL_ACCOUNT_CUTOFF:%Y-%m-%d} may connect at most two calendar accounts."
)
MAX_PASSWORD = 1024
MAX_EWS_URL = 2000
MAX_HOSTNAME = 253
HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)", re.IGNORECASE)
EWS_URL_MESSAGE = "ewsUrl must be an http(s) URL with a valid host and port"


def check_permission(personal_email_access: bool) -> None:
    if not personal_email_access:
        raise PermissionRequired(PERMISSION_MESSAGE)


def may_hold_two_connections(*, created_at: datetime, legacy_dual_forfeited: bool) -> bool:
    """A user created before the cutoff who has not yet removed one of two connections."""
    return created_at < LEGACY_DUAL_ACCOUNT_CUTOFF and not legacy_dual_forfeited


def free_slot(taken: Collection[int], *, may_hold_two: bool) -> int:
    """The connection slot (1, or 2 for a legacy user's second account) a new connection takes."""
    allowed = (1, 2) if may_hold_two else (1,)
    for slot in allowed:
        if slot not in taken and len(taken) < len(allowed):
            return slot
    raise connection_limit(may_hold_two=may_hold_two)


def connection_limit(*, may_hold_two: bool) -> ConnectionLimit:
    """The error for a connect beyond the user's limit (also when a concurrent connect took the slot)."""
    return ConnectionLimit(LEGACY_TWO_MESSAGE if may_hold_two else ONE_ACCOUNT_MESSAGE)


def forfeits_legacy_dual(held: int) -> bool:
    """Removing one of two connections: the one-account rule applies from then on."""
    return held > 1


def check_inbox_connectable(
    address: str, *, inbox_shared: bool | None, inbox_user_id: uuid.UUID | None, user_id: uuid.UUID
) -> None:
    """`inbox_shared` is None when the account has no inbox at `address` yet."""
    if inbox_shared is None:
        return
    if inbox_shared:
        raise SharedInbox(f"{address} is connected as a shared inbox; only personal inboxes can be connected.")
    if inbox_user_id not in (None, user_id):
        raise InvalidInput(f"{address} is another user's inbox", field="email")


def turns_on_sync_and_pages(kind: ProviderKind) -> bool:
    """Calendar sync and scheduling pages are on by default once a Google/Office 365 calendar is connected."""
    return kind is not ProviderKind.EXCHANGE


def check_exchange_password(password: str) -> None:
    if not password:
        raise InvalidInput("password must not be empty", field="password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD} characters", field="password")


def ews_url(value: str | None) -> str | None:
    """An http(s) URL with a valid host (a name or an IP literal) and port, or None to autodiscover.

    Only the form is checked here; where the URL may connect (public https, or the operator's private networks) is
    decided on the addresses it resolves to, when connecting (providers/outbound.py).
    """
    if value is None or not value.strip():
        return None
    url = value.strip()
    if len(url) > MAX_EWS_URL:
        raise InvalidInput(f"ewsUrl must be at most {MAX_EWS_URL} characters", field="ewsUrl")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when not a number in 0-65535
    except ValueError as exc:
        raise InvalidInput(EWS_URL_MESSAGE, field="ewsUrl") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise InvalidInput(EWS_URL_MESSAGE, field="ewsUrl")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("ewsUrl must not contain a user name or password", field="ewsUrl")
    if not _valid_host(parts.hostname, bracketed=parts.netloc.rpartition("@")[2].startswith("[")):
        raise InvalidInput(EWS_URL_MESSAGE, field="ewsUrl")
    return url


def _valid_host(host: str, *, bracketed: bool) -> bool:
    """An IPv6 literal (in brackets), or a DNS name (IDNA) whose labels are letters, digits and hyphens. Numeric
    spellings such as 2130706433 are names here; they are judged by the address they resolve to."""
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(ascii_host) <= MAX_HOSTNAME and all(HOST_LABEL.fullmatch(label) for label in labels)
